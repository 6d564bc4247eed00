/* iommufd (/dev/iommu; include/uapi/linux/iommufd.h; kernel-abi §4 cdev path). */
#include "iovh.h"
#include "sys.h"

int __iommu_ioas_alloc(int iommufd, struct iommu_ioas_alloc *alloc)
{
	return iovh_ioctl(iommufd, IOMMU_IOAS_ALLOC, alloc);
}
