/* DRM core calls (include/uapi/drm/drm.h; docs/kernel.md §6). */
#include "iovh.h"
#include "sys.h"

int __drm_version(int fd, struct drm_version *version)
{
	return iovh_ioctl(fd, DRM_IOCTL_VERSION, version);
}

int __drm_get_cap(int fd, struct drm_get_cap *cap)
{
	return iovh_ioctl(fd, DRM_IOCTL_GET_CAP, cap);
}

int __drm_prime_fd_to_handle(int fd, struct drm_prime_handle *prime)
{
	return iovh_ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, prime);
}

int __drm_prime_handle_to_fd(int fd, struct drm_prime_handle *prime)
{
	return iovh_ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, prime);
}

int __drm_gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close close = { .handle = handle };

	return iovh_ioctl(fd, DRM_IOCTL_GEM_CLOSE, &close);
}

int __drm_syncobj_create(int fd, struct drm_syncobj_create *create)
{
	return iovh_ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, create);
}

int __drm_syncobj_destroy(int fd, uint32_t handle)
{
	struct drm_syncobj_destroy destroy = { .handle = handle };

	return iovh_ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &destroy);
}

/* Blocks until the deadline (absolute CLOCK_MONOTONIC): the binding runs it off the JS thread. */
int __drm_syncobj_wait(int fd, struct drm_syncobj_wait *wait)
{
	return iovh_ioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, wait);
}
