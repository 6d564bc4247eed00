/* DRM core uAPI (include/uapi/drm/drm.h of Linux 7.2; docs/kernel.md §6), the
 * calls iovh makes. Type 'd'; driver commands start at DRM_COMMAND_BASE. */
#ifndef IOVH_UAPI_DRM_H
#define IOVH_UAPI_DRM_H

#include <stddef.h>
#include <stdint.h>
#include "ioctl.h"

#define DRM_IOCTL_BASE 'd'
#define DRM_COMMAND_BASE 0x40
#define DRM_IO(nr) IOVH_IO(DRM_IOCTL_BASE, nr)
#define DRM_IOR(nr, T) IOVH_IOR(DRM_IOCTL_BASE, nr, T)
#define DRM_IOW(nr, T) IOVH_IOW(DRM_IOCTL_BASE, nr, T)
#define DRM_IOWR(nr, T) IOVH_IOWR(DRM_IOCTL_BASE, nr, T)

struct drm_version {
	int version_major;
	int version_minor;
	int version_patchlevel;
	size_t name_len;
	char *name;
	size_t date_len;
	char *date;
	size_t desc_len;
	char *desc;
};
IOVH_ASSERT_SIZE(struct drm_version, 64);
IOVH_ASSERT_OFF(struct drm_version, version_minor, 4);
IOVH_ASSERT_OFF(struct drm_version, version_patchlevel, 8);
IOVH_ASSERT_OFF(struct drm_version, name_len, 16);
IOVH_ASSERT_OFF(struct drm_version, name, 24);
IOVH_ASSERT_OFF(struct drm_version, date_len, 32);
IOVH_ASSERT_OFF(struct drm_version, date, 40);
IOVH_ASSERT_OFF(struct drm_version, desc_len, 48);
IOVH_ASSERT_OFF(struct drm_version, desc, 56);

struct drm_gem_close {
	uint32_t handle;
	uint32_t pad;
};
IOVH_ASSERT_SIZE(struct drm_gem_close, 8);
IOVH_ASSERT_OFF(struct drm_gem_close, pad, 4);

struct drm_get_cap {
	uint64_t capability;
	uint64_t value;
};
IOVH_ASSERT_SIZE(struct drm_get_cap, 16);
IOVH_ASSERT_OFF(struct drm_get_cap, value, 8);

#define DRM_CAP_PRIME 0x5
#define DRM_PRIME_CAP_IMPORT 0x1
#define DRM_PRIME_CAP_EXPORT 0x2
/* DRM_CLOEXEC / DRM_RDWR are O_CLOEXEC / O_RDWR (x86_64 values). */
#define DRM_RDWR 02
#define DRM_CLOEXEC 02000000

struct drm_prime_handle {
	uint32_t handle;
	uint32_t flags;
	int32_t fd;
};
IOVH_ASSERT_SIZE(struct drm_prime_handle, 12);
IOVH_ASSERT_OFF(struct drm_prime_handle, flags, 4);
IOVH_ASSERT_OFF(struct drm_prime_handle, fd, 8);

struct drm_syncobj_create {
	uint32_t handle;
	uint32_t flags;
};
#define DRM_SYNCOBJ_CREATE_SIGNALED (1 << 0)
IOVH_ASSERT_SIZE(struct drm_syncobj_create, 8);
IOVH_ASSERT_OFF(struct drm_syncobj_create, flags, 4);

struct drm_syncobj_destroy {
	uint32_t handle;
	uint32_t pad;
};
IOVH_ASSERT_SIZE(struct drm_syncobj_destroy, 8);

struct drm_syncobj_wait {
	uint64_t handles;
	int64_t timeout_nsec;
	uint32_t count_handles;
	uint32_t flags;
	uint32_t first_signaled;
	uint32_t pad;
	uint64_t deadline_nsec;
};
#define DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL (1 << 0)
#define DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT (1 << 1)
#define DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE (1 << 2)
#define DRM_SYNCOBJ_WAIT_FLAGS_WAIT_DEADLINE (1 << 3)
IOVH_ASSERT_SIZE(struct drm_syncobj_wait, 40);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, timeout_nsec, 8);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, count_handles, 16);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, flags, 20);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, first_signaled, 24);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, pad, 28);
IOVH_ASSERT_OFF(struct drm_syncobj_wait, deadline_nsec, 32);

#define DRM_IOCTL_VERSION DRM_IOWR(0x00, struct drm_version)
#define DRM_IOCTL_GEM_CLOSE DRM_IOW(0x09, struct drm_gem_close)
#define DRM_IOCTL_GET_CAP DRM_IOWR(0x0c, struct drm_get_cap)
#define DRM_IOCTL_PRIME_HANDLE_TO_FD DRM_IOWR(0x2d, struct drm_prime_handle)
#define DRM_IOCTL_PRIME_FD_TO_HANDLE DRM_IOWR(0x2e, struct drm_prime_handle)
#define DRM_IOCTL_SYNCOBJ_CREATE DRM_IOWR(0xBF, struct drm_syncobj_create)
#define DRM_IOCTL_SYNCOBJ_DESTROY DRM_IOWR(0xC0, struct drm_syncobj_destroy)
#define DRM_IOCTL_SYNCOBJ_WAIT DRM_IOWR(0xC3, struct drm_syncobj_wait)
IOVH_ASSERT_REQ(DRM_IOCTL_VERSION, 0xC0406400);
IOVH_ASSERT_REQ(DRM_IOCTL_GEM_CLOSE, 0x40086409);
IOVH_ASSERT_REQ(DRM_IOCTL_GET_CAP, 0xC010640C);
IOVH_ASSERT_REQ(DRM_IOCTL_PRIME_HANDLE_TO_FD, 0xC00C642D);
IOVH_ASSERT_REQ(DRM_IOCTL_PRIME_FD_TO_HANDLE, 0xC00C642E);
IOVH_ASSERT_REQ(DRM_IOCTL_SYNCOBJ_CREATE, 0xC00864BF);
IOVH_ASSERT_REQ(DRM_IOCTL_SYNCOBJ_DESTROY, 0xC00864C0);
IOVH_ASSERT_REQ(DRM_IOCTL_SYNCOBJ_WAIT, 0xC02864C3);

#endif
