/* VFIO container, group and device calls (include/uapi/linux/vfio.h;
 * docs/kernel.md §1-§4). Every VFIO ioctl is _IO: the kernel reads argsz from the
 * struct, so callers set it, and invalid values reach the kernel unchanged. */
#include <string.h>

#include "iovh.h"
#include "sys.h"

int __vfio_get_api_version(int container)
{
	return iovh_ioctl_int(container, VFIO_GET_API_VERSION, 0);
}

int __vfio_check_extension(int container, int extension)
{
	return iovh_ioctl_int(container, VFIO_CHECK_EXTENSION, (unsigned long)extension);
}

int __vfio_set_iommu(int container, int type)
{
	return iovh_ioctl_int(container, VFIO_SET_IOMMU, (unsigned long)type);
}

int __vfio_group_get_status(int group, struct vfio_group_status *status)
{
	return iovh_ioctl(group, VFIO_GROUP_GET_STATUS, status);
}

/* The argument is a pointer to the container fd (drivers/vfio/group.c). */
int __vfio_group_set_container(int group, int container)
{
	return iovh_ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
}

int __vfio_group_unset_container(int group)
{
	return iovh_ioctl_int(group, VFIO_GROUP_UNSET_CONTAINER, 0);
}

/* Returns the new device fd. */
int __vfio_group_get_device_fd(int group, const char *bdf)
{
	return iovh_ioctl(group, VFIO_GROUP_GET_DEVICE_FD, (void *)bdf);
}

int __vfio_device_get_info(int device, struct vfio_device_info *info)
{
	return iovh_ioctl(device, VFIO_DEVICE_GET_INFO, info);
}

int __vfio_device_get_region_info(int device, struct vfio_region_info *info)
{
	return iovh_ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info);
}

int __vfio_device_reset(int device)
{
	return iovh_ioctl_int(device, VFIO_DEVICE_RESET, 0);
}

/* GET DMA_BUF returns the new dma-buf fd as the ioctl's value (docs/kernel.md §3.2). */
int __vfio_device_feature(int device, struct vfio_device_feature *feature)
{
	return iovh_ioctl(device, VFIO_DEVICE_FEATURE, feature);
}

int __vfio_device_bind_iommufd(int device, struct vfio_device_bind_iommufd *bind)
{
	return iovh_ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, bind);
}

int __vfio_device_attach_iommufd_pt(int device, struct vfio_device_attach_iommufd_pt *attach)
{
	return iovh_ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
}

int __vfio_device_detach_iommufd_pt(int device, struct vfio_device_detach_iommufd_pt *detach)
{
	return iovh_ioctl(device, VFIO_DEVICE_DETACH_IOMMUFD_PT, detach);
}

size_t vfio_dma_buf_request_size(uint64_t nr_ranges)
{
	return sizeof(struct vfio_device_feature) + sizeof(struct vfio_device_feature_dma_buf) +
	       (size_t)nr_ranges * sizeof(struct vfio_region_dma_range);
}

void vfio_dma_buf_request_fill(void *buf, uint32_t argsz, uint32_t feature_flags, uint32_t region_index,
			       uint32_t open_flags, uint32_t flags, uint32_t nr_ranges, const uint64_t *ranges,
			       size_t n)
{
	struct vfio_device_feature *feature = buf;
	struct vfio_device_feature_dma_buf *req = (void *)feature->data;

	feature->argsz = argsz;
	feature->flags = feature_flags;
	req->region_index = region_index;
	req->open_flags = open_flags;
	req->flags = flags;
	req->nr_ranges = nr_ranges;
	/* struct vfio_region_dma_range is {u64 offset, u64 length}: the pairs as they are. */
	if (n)
		memcpy(req->dma_ranges, ranges, n * sizeof(struct vfio_region_dma_range));
}
