/* iommufd uAPI (include/uapi/linux/iommufd.h of Linux 7.2; kernel-abi §1, §2):
 * the two calls of the cdev path. Type ';' like VFIO, commands from 0x80. */
#ifndef IOVH_UAPI_IOMMUFD_H
#define IOVH_UAPI_IOMMUFD_H

#include <stdint.h>
#include "ioctl.h"

#define IOMMUFD_TYPE (';')
#define IOMMUFD_CMD_DESTROY 0x80
#define IOMMUFD_CMD_IOAS_ALLOC 0x81

#define IOMMU_DESTROY IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_DESTROY)
#define IOMMU_IOAS_ALLOC IOVH_IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)
IOVH_ASSERT_REQ(IOMMU_DESTROY, 0x3B80);
IOVH_ASSERT_REQ(IOMMU_IOAS_ALLOC, 0x3B81);

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

#endif
