/* iovh's stand-in importer module (/dev/iovh-ic, kernel/iovh-ic-importer;
 * uAPI in uapi/iovh_ic.h). One ioctl per call, -errno on failure. */
#include "iovh.h"
#include "sys.h"

int __iovh_ic_version(int fd, struct iovh_ic_version *version)
{
	return iovh_ioctl(fd, IOVH_IC_VERSION, version);
}

int __iovh_ic_import(int fd, struct iovh_ic_import *import)
{
	return iovh_ioctl(fd, IOVH_IC_IMPORT, import);
}

/* On failure the module still writes back path and ic_error. */
int __iovh_ic_map(int fd, struct iovh_ic_map *map)
{
	return iovh_ioctl(fd, IOVH_IC_MAP, map);
}

int __iovh_ic_info(int fd, struct iovh_ic_info *info)
{
	return iovh_ioctl(fd, IOVH_IC_INFO, info);
}

int __iovh_ic_rw(int fd, struct iovh_ic_rw *rw)
{
	return iovh_ioctl(fd, IOVH_IC_RW, rw);
}

int __iovh_ic_release(int fd, uint32_t handle)
{
	struct iovh_ic_release release = { .handle = handle };

	return iovh_ioctl(fd, IOVH_IC_RELEASE, &release);
}
