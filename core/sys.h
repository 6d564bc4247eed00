/* Private helpers of the C core: the one-syscall, -errno convention. */
#ifndef IOVH_SYS_H
#define IOVH_SYS_H

#include <errno.h>
#include <sys/ioctl.h>

/* ioctl(2), retried on EINTR, as -errno or the (non-negative) result. */
static inline int iovh_ioctl(int fd, unsigned long request, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret == -1 && errno == EINTR);
	return ret == -1 ? -errno : ret;
}

/* Same for a call whose argument is a plain integer (VFIO's container ioctls). */
static inline int iovh_ioctl_int(int fd, unsigned long request, unsigned long arg)
{
	int ret;

	do {
		ret = ioctl(fd, request, arg);
	} while (ret == -1 && errno == EINTR);
	return ret == -1 ? -errno : ret;
}

#define IOVH_RET(expr) ((expr) == -1 ? -errno : 0)

#endif
