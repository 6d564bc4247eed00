/* iommufd (/dev/iommu; include/uapi/linux/iommufd.h; docs/iommufd.md): the
 * calls of the cdev path and of iommufd as a dma-buf importer, one ioctl
 * each. The caller sets each struct's `size`: the kernel reads it instead of
 * the request's (empty) size field (drivers/iommu/iommufd/main.c,
 * iommufd_fops_ioctl). */
#include "iovh.h"
#include "sys.h"

int __iommu_destroy(int iommufd, struct iommu_destroy *destroy)
{
	return iovh_ioctl(iommufd, IOMMU_DESTROY, destroy);
}

int __iommu_ioas_alloc(int iommufd, struct iommu_ioas_alloc *alloc)
{
	return iovh_ioctl(iommufd, IOMMU_IOAS_ALLOC, alloc);
}

/* EMSGSIZE with ranges->num_iovas set to the count when the array was too small. */
int __iommu_ioas_iova_ranges(int iommufd, struct iommu_ioas_iova_ranges *ranges)
{
	return iovh_ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, ranges);
}

/* On success map->iova holds where the file was mapped (set by the kernel
 * unless IOMMU_IOAS_MAP_FIXED_IOVA). */
int __iommu_ioas_map_file(int iommufd, struct iommu_ioas_map_file *map)
{
	return iovh_ioctl(iommufd, IOMMU_IOAS_MAP_FILE, map);
}

/* On success unmap->length holds the bytes unmapped. */
int __iommu_ioas_unmap(int iommufd, struct iommu_ioas_unmap *unmap)
{
	return iovh_ioctl(iommufd, IOMMU_IOAS_UNMAP, unmap);
}
