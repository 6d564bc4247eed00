/* iommufd uAPI (include/uapi/linux/iommufd.h of Linux 7.2; docs/iommufd.md):
 * the calls of the cdev path and of iommufd as a dma-buf importer. Type ';'
 * like VFIO, commands from 0x80; every request is _IO (no size, no
 * direction): the kernel reads the struct's leading u32 `size` instead
 * (drivers/iommu/iommufd/main.c, iommufd_fops_ioctl). `npm run abi-check`
 * compares each name against the real header. */
#ifndef IOVH_UAPI_IOMMUFD_H
#define IOVH_UAPI_IOMMUFD_H

#include <stdint.h>
#include "ioctl.h"

#define IOMMUFD_TYPE (';')
#define IOMMUFD_CMD_DESTROY 0x80
#define IOMMUFD_CMD_IOAS_ALLOC 0x81
#define IOMMUFD_CMD_IOAS_IOVA_RANGES 0x84
#define IOMMUFD_CMD_IOAS_UNMAP 0x86
#define IOMMUFD_CMD_IOAS_MAP_FILE 0x8f

#define IOMMU_DESTROY IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)
#define IOMMU_IOAS_ALLOC IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
#define IOMMU_IOAS_IOVA_RANGES IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)
#define IOMMU_IOAS_UNMAP IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)
#define IOMMU_IOAS_MAP_FILE IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP_FILE)
IOVH_ASSERT_REQ(IOMMU_DESTROY, 0x3B80);
IOVH_ASSERT_REQ(IOMMU_IOAS_ALLOC, 0x3B81);
IOVH_ASSERT_REQ(IOMMU_IOAS_IOVA_RANGES, 0x3B84);
IOVH_ASSERT_REQ(IOMMU_IOAS_UNMAP, 0x3B86);
IOVH_ASSERT_REQ(IOMMU_IOAS_MAP_FILE, 0x3B8F);

/* enum iommufd_ioas_map_flags */
#define IOMMU_IOAS_MAP_FIXED_IOVA 1
#define IOMMU_IOAS_MAP_WRITEABLE 2
#define IOMMU_IOAS_MAP_READABLE 4

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};
IOVH_ASSERT_SIZE(struct iommu_destroy, 8);
IOVH_ASSERT_OFF(struct iommu_destroy, id, 4);

struct iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};
IOVH_ASSERT_SIZE(struct iommu_ioas_alloc, 12);
IOVH_ASSERT_OFF(struct iommu_ioas_alloc, flags, 4);
IOVH_ASSERT_OFF(struct iommu_ioas_alloc, out_ioas_id, 8);

/* An interval of IOVA space, `last` inclusive. */
struct iommu_iova_range {
	uint64_t start;
	uint64_t last;
};
IOVH_ASSERT_SIZE(struct iommu_iova_range, 16);
IOVH_ASSERT_OFF(struct iommu_iova_range, last, 8);

/* num_iovas: in, the capacity of allowed_iovas; out, how many there are
 * (EMSGSIZE when they did not fit, with num_iovas set to the count). */
struct iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t __reserved;
	uint64_t allowed_iovas; /* user pointer to struct iommu_iova_range[] */
	uint64_t out_iova_alignment;
};
IOVH_ASSERT_SIZE(struct iommu_ioas_iova_ranges, 32);
IOVH_ASSERT_ALIGN(struct iommu_ioas_iova_ranges, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_iova_ranges, ioas_id, 4);
IOVH_ASSERT_OFF(struct iommu_ioas_iova_ranges, num_iovas, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_iova_ranges, __reserved, 12);
IOVH_ASSERT_OFF(struct iommu_ioas_iova_ranges, allowed_iovas, 16);
IOVH_ASSERT_OFF(struct iommu_ioas_iova_ranges, out_iova_alignment, 24);

/* A memfd or a (single-range VFIO) dma-buf mapped into an IOAS: fd, byte
 * range [start, start + length) of the file; iova in with FIXED_IOVA, out
 * otherwise. */
struct iommu_ioas_map_file {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	int32_t fd;
	uint64_t start;
	uint64_t length;
	uint64_t iova;
};
IOVH_ASSERT_SIZE(struct iommu_ioas_map_file, 40);
IOVH_ASSERT_ALIGN(struct iommu_ioas_map_file, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, flags, 4);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, ioas_id, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, fd, 12);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, start, 16);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, length, 24);
IOVH_ASSERT_OFF(struct iommu_ioas_map_file, iova, 32);

/* length: in, bytes to unmap; out, bytes unmapped. iova 0 with length
 * U64_MAX unmaps everything. */
struct iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	uint64_t iova;
	uint64_t length;
};
IOVH_ASSERT_SIZE(struct iommu_ioas_unmap, 24);
IOVH_ASSERT_ALIGN(struct iommu_ioas_unmap, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_unmap, ioas_id, 4);
IOVH_ASSERT_OFF(struct iommu_ioas_unmap, iova, 8);
IOVH_ASSERT_OFF(struct iommu_ioas_unmap, length, 16);

#endif
