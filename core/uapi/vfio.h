/* VFIO uAPI (include/uapi/linux/vfio.h of Linux 7.2), our own definitions with
 * the kernel's names. Numbers: docs/kernel.md §1-§4; `npm run
 * abi-check` compares each against the real header. */
#ifndef IOVH_UAPI_VFIO_H
#define IOVH_UAPI_VFIO_H

#include <stdint.h>
#include "ioctl.h"

#define VFIO_API_VERSION 0
#define VFIO_TYPE1_IOMMU 1
#define VFIO_SPAPR_TCE_IOMMU 2
#define VFIO_TYPE1v2_IOMMU 3
#define VFIO_DMA_CC_IOMMU 4
#define VFIO_EEH 5
#define VFIO_NOIOMMU_IOMMU 8
#define VFIO_UNMAP_ALL 9
#define VFIO_UPDATE_VADDR 10

/* Every VFIO ioctl is _IO(';', 100 + n): no size, no direction (docs/kernel.md §1, §11.10). */
#define VFIO_TYPE (';')
#define VFIO_BASE 100

#define VFIO_GET_API_VERSION IOVH_IO(VFIO_TYPE, VFIO_BASE + 0)
#define VFIO_CHECK_EXTENSION IOVH_IO(VFIO_TYPE, VFIO_BASE + 1)
#define VFIO_SET_IOMMU IOVH_IO(VFIO_TYPE, VFIO_BASE + 2)
#define VFIO_GROUP_GET_STATUS IOVH_IO(VFIO_TYPE, VFIO_BASE + 3)
#define VFIO_GROUP_SET_CONTAINER IOVH_IO(VFIO_TYPE, VFIO_BASE + 4)
#define VFIO_GROUP_UNSET_CONTAINER IOVH_IO(VFIO_TYPE, VFIO_BASE + 5)
#define VFIO_GROUP_GET_DEVICE_FD IOVH_IO(VFIO_TYPE, VFIO_BASE + 6)
#define VFIO_DEVICE_GET_INFO IOVH_IO(VFIO_TYPE, VFIO_BASE + 7)
#define VFIO_DEVICE_GET_REGION_INFO IOVH_IO(VFIO_TYPE, VFIO_BASE + 8)
#define VFIO_DEVICE_GET_IRQ_INFO IOVH_IO(VFIO_TYPE, VFIO_BASE + 9)
#define VFIO_DEVICE_SET_IRQS IOVH_IO(VFIO_TYPE, VFIO_BASE + 10)
#define VFIO_DEVICE_RESET IOVH_IO(VFIO_TYPE, VFIO_BASE + 11)
#define VFIO_DEVICE_GET_PCI_HOT_RESET_INFO IOVH_IO(VFIO_TYPE, VFIO_BASE + 12)
#define VFIO_DEVICE_PCI_HOT_RESET IOVH_IO(VFIO_TYPE, VFIO_BASE + 13)
#define VFIO_IOMMU_GET_INFO IOVH_IO(VFIO_TYPE, VFIO_BASE + 12)
#define VFIO_IOMMU_MAP_DMA IOVH_IO(VFIO_TYPE, VFIO_BASE + 13)
#define VFIO_IOMMU_UNMAP_DMA IOVH_IO(VFIO_TYPE, VFIO_BASE + 14)
#define VFIO_DEVICE_FEATURE IOVH_IO(VFIO_TYPE, VFIO_BASE + 17)
#define VFIO_DEVICE_BIND_IOMMUFD IOVH_IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT IOVH_IO(VFIO_TYPE, VFIO_BASE + 19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT IOVH_IO(VFIO_TYPE, VFIO_BASE + 20)

IOVH_ASSERT_REQ(VFIO_GET_API_VERSION, 0x3B64);
IOVH_ASSERT_REQ(VFIO_CHECK_EXTENSION, 0x3B65);
IOVH_ASSERT_REQ(VFIO_SET_IOMMU, 0x3B66);
IOVH_ASSERT_REQ(VFIO_GROUP_GET_STATUS, 0x3B67);
IOVH_ASSERT_REQ(VFIO_GROUP_SET_CONTAINER, 0x3B68);
IOVH_ASSERT_REQ(VFIO_GROUP_UNSET_CONTAINER, 0x3B69);
IOVH_ASSERT_REQ(VFIO_GROUP_GET_DEVICE_FD, 0x3B6A);
IOVH_ASSERT_REQ(VFIO_DEVICE_GET_INFO, 0x3B6B);
IOVH_ASSERT_REQ(VFIO_DEVICE_GET_REGION_INFO, 0x3B6C);
IOVH_ASSERT_REQ(VFIO_DEVICE_GET_IRQ_INFO, 0x3B6D);
IOVH_ASSERT_REQ(VFIO_DEVICE_SET_IRQS, 0x3B6E);
IOVH_ASSERT_REQ(VFIO_DEVICE_RESET, 0x3B6F);
IOVH_ASSERT_REQ(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, 0x3B70);
IOVH_ASSERT_REQ(VFIO_DEVICE_PCI_HOT_RESET, 0x3B71);
IOVH_ASSERT_REQ(VFIO_IOMMU_GET_INFO, 0x3B70);
IOVH_ASSERT_REQ(VFIO_IOMMU_MAP_DMA, 0x3B71);
IOVH_ASSERT_REQ(VFIO_IOMMU_UNMAP_DMA, 0x3B72);
IOVH_ASSERT_REQ(VFIO_DEVICE_FEATURE, 0x3B75);
IOVH_ASSERT_REQ(VFIO_DEVICE_BIND_IOMMUFD, 0x3B76);
IOVH_ASSERT_REQ(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0x3B77);
IOVH_ASSERT_REQ(VFIO_DEVICE_DETACH_IOMMUFD_PT, 0x3B78);

struct vfio_group_status {
	uint32_t argsz;
	uint32_t flags;
};
#define VFIO_GROUP_FLAGS_VIABLE (1 << 0)
#define VFIO_GROUP_FLAGS_CONTAINER_SET (1 << 1)
IOVH_ASSERT_SIZE(struct vfio_group_status, 8);
IOVH_ASSERT_OFF(struct vfio_group_status, flags, 4);

struct vfio_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};
#define VFIO_DEVICE_FLAGS_RESET (1 << 0)
#define VFIO_DEVICE_FLAGS_PCI (1 << 1)
#define VFIO_DEVICE_FLAGS_PLATFORM (1 << 2)
#define VFIO_DEVICE_FLAGS_AMBA (1 << 3)
#define VFIO_DEVICE_FLAGS_CCW (1 << 4)
#define VFIO_DEVICE_FLAGS_AP (1 << 5)
#define VFIO_DEVICE_FLAGS_FSL_MC (1 << 6)
#define VFIO_DEVICE_FLAGS_CAPS (1 << 7)
#define VFIO_DEVICE_FLAGS_CDX (1 << 8)
IOVH_ASSERT_SIZE(struct vfio_device_info, 24);
IOVH_ASSERT_OFF(struct vfio_device_info, flags, 4);
IOVH_ASSERT_OFF(struct vfio_device_info, num_regions, 8);
IOVH_ASSERT_OFF(struct vfio_device_info, num_irqs, 12);
IOVH_ASSERT_OFF(struct vfio_device_info, cap_offset, 16);
IOVH_ASSERT_OFF(struct vfio_device_info, pad, 20);

struct vfio_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
#define VFIO_REGION_INFO_FLAG_READ (1 << 0)
#define VFIO_REGION_INFO_FLAG_WRITE (1 << 1)
#define VFIO_REGION_INFO_FLAG_MMAP (1 << 2)
#define VFIO_REGION_INFO_FLAG_CAPS (1 << 3)
IOVH_ASSERT_SIZE(struct vfio_region_info, 32);
IOVH_ASSERT_ALIGN(struct vfio_region_info, 8);
IOVH_ASSERT_OFF(struct vfio_region_info, flags, 4);
IOVH_ASSERT_OFF(struct vfio_region_info, index, 8);
IOVH_ASSERT_OFF(struct vfio_region_info, cap_offset, 12);
IOVH_ASSERT_OFF(struct vfio_region_info, size, 16);
IOVH_ASSERT_OFF(struct vfio_region_info, offset, 24);

struct vfio_info_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};
IOVH_ASSERT_SIZE(struct vfio_info_cap_header, 8);
IOVH_ASSERT_OFF(struct vfio_info_cap_header, version, 2);
IOVH_ASSERT_OFF(struct vfio_info_cap_header, next, 4);

#define VFIO_REGION_INFO_CAP_SPARSE_MMAP 1
#define VFIO_REGION_INFO_CAP_TYPE 2
#define VFIO_REGION_INFO_CAP_MSIX_MAPPABLE 3

struct vfio_region_sparse_mmap_area {
	uint64_t offset;
	uint64_t size;
};
IOVH_ASSERT_SIZE(struct vfio_region_sparse_mmap_area, 16);
IOVH_ASSERT_OFF(struct vfio_region_sparse_mmap_area, size, 8);

struct vfio_region_info_cap_sparse_mmap {
	struct vfio_info_cap_header header;
	uint32_t nr_areas;
	uint32_t reserved;
	struct vfio_region_sparse_mmap_area areas[];
};
IOVH_ASSERT_SIZE(struct vfio_region_info_cap_sparse_mmap, 16);
IOVH_ASSERT_OFF(struct vfio_region_info_cap_sparse_mmap, nr_areas, 8);
IOVH_ASSERT_OFF(struct vfio_region_info_cap_sparse_mmap, reserved, 12);
IOVH_ASSERT_OFF(struct vfio_region_info_cap_sparse_mmap, areas, 16);

struct vfio_region_info_cap_type {
	struct vfio_info_cap_header header;
	uint32_t type;
	uint32_t subtype;
};
IOVH_ASSERT_SIZE(struct vfio_region_info_cap_type, 16);
IOVH_ASSERT_OFF(struct vfio_region_info_cap_type, type, 8);
IOVH_ASSERT_OFF(struct vfio_region_info_cap_type, subtype, 12);

/* vfio-pci region indices and file offsets (VFIO_PCI_OFFSET_SHIFT, drivers/vfio/pci/vfio_pci_priv.h). */
#define VFIO_PCI_BAR0_REGION_INDEX 0
#define VFIO_PCI_BAR2_REGION_INDEX 2
#define VFIO_PCI_BAR5_REGION_INDEX 5
#define VFIO_PCI_ROM_REGION_INDEX 6
#define VFIO_PCI_CONFIG_REGION_INDEX 7
#define VFIO_PCI_VGA_REGION_INDEX 8
#define VFIO_PCI_NUM_REGIONS 9

struct vfio_device_feature {
	uint32_t argsz;
	uint32_t flags;
	uint8_t data[];
};
#define VFIO_DEVICE_FEATURE_MASK (0xffff)
#define VFIO_DEVICE_FEATURE_GET (1 << 16)
#define VFIO_DEVICE_FEATURE_SET (1 << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1 << 18)
IOVH_ASSERT_SIZE(struct vfio_device_feature, 8);
IOVH_ASSERT_OFF(struct vfio_device_feature, flags, 4);
IOVH_ASSERT_OFF(struct vfio_device_feature, data, 8);

#define VFIO_DEVICE_FEATURE_PCI_VF_TOKEN 0
#define VFIO_DEVICE_FEATURE_MIGRATION 1
#define VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE 2
#define VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY 3
#define VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP 4
#define VFIO_DEVICE_FEATURE_LOW_POWER_EXIT 5
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_START 6
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP 7
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT 8
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#define VFIO_DEVICE_FEATURE_BUS_MASTER 10
#define VFIO_DEVICE_FEATURE_DMA_BUF 11
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12

struct vfio_region_dma_range {
	uint64_t offset;
	uint64_t length;
};
IOVH_ASSERT_SIZE(struct vfio_region_dma_range, 16);
IOVH_ASSERT_OFF(struct vfio_region_dma_range, length, 8);

/* docs/kernel.md §3.2: one buffer = vfio_device_feature header + this + ranges. */
struct vfio_device_feature_dma_buf {
	uint32_t region_index;
	uint32_t open_flags;
	uint32_t flags;
	uint32_t nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};
IOVH_ASSERT_SIZE(struct vfio_device_feature_dma_buf, 16);
IOVH_ASSERT_ALIGN(struct vfio_device_feature_dma_buf, 8);
IOVH_ASSERT_OFF(struct vfio_device_feature_dma_buf, open_flags, 4);
IOVH_ASSERT_OFF(struct vfio_device_feature_dma_buf, flags, 8);
IOVH_ASSERT_OFF(struct vfio_device_feature_dma_buf, nr_ranges, 12);
IOVH_ASSERT_OFF(struct vfio_device_feature_dma_buf, dma_ranges, 16);

struct vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
	uint64_t token_uuid_ptr;
};
#define VFIO_DEVICE_BIND_FLAG_TOKEN (1 << 0)
IOVH_ASSERT_SIZE(struct vfio_device_bind_iommufd, 24);
IOVH_ASSERT_OFF(struct vfio_device_bind_iommufd, iommufd, 8);
IOVH_ASSERT_OFF(struct vfio_device_bind_iommufd, out_devid, 12);
IOVH_ASSERT_OFF(struct vfio_device_bind_iommufd, token_uuid_ptr, 16);

struct vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
	uint32_t pasid;
};
#define VFIO_DEVICE_ATTACH_PASID (1 << 0)
IOVH_ASSERT_SIZE(struct vfio_device_attach_iommufd_pt, 16);
IOVH_ASSERT_OFF(struct vfio_device_attach_iommufd_pt, pt_id, 8);
IOVH_ASSERT_OFF(struct vfio_device_attach_iommufd_pt, pasid, 12);

struct vfio_device_detach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pasid;
};
#define VFIO_DEVICE_DETACH_PASID (1 << 0)
IOVH_ASSERT_SIZE(struct vfio_device_detach_iommufd_pt, 12);
IOVH_ASSERT_OFF(struct vfio_device_detach_iommufd_pt, pasid, 8);

#endif
