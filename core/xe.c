/* Xe calls (include/uapi/drm/xe_drm.h; docs/kernel.md §7). */
#include "iovh.h"
#include "sys.h"

int __xe_device_query(int fd, struct drm_xe_device_query *query)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_DEVICE_QUERY, query);
}

int __xe_gem_create(int fd, struct drm_xe_gem_create *create)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_GEM_CREATE, create);
}

int __xe_gem_mmap_offset(int fd, struct drm_xe_gem_mmap_offset *mmo)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_GEM_MMAP_OFFSET, mmo);
}

int __xe_vm_create(int fd, struct drm_xe_vm_create *create)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_VM_CREATE, create);
}

int __xe_vm_destroy(int fd, uint32_t vm_id)
{
	struct drm_xe_vm_destroy destroy = { .vm_id = vm_id };

	return iovh_ioctl(fd, DRM_IOCTL_XE_VM_DESTROY, &destroy);
}

int __xe_vm_bind(int fd, struct drm_xe_vm_bind *bind)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_VM_BIND, bind);
}

int __xe_exec_queue_create(int fd, struct drm_xe_exec_queue_create *create)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_EXEC_QUEUE_CREATE, create);
}

int __xe_exec_queue_destroy(int fd, uint32_t exec_queue_id)
{
	struct drm_xe_exec_queue_destroy destroy = { .exec_queue_id = exec_queue_id };

	return iovh_ioctl(fd, DRM_IOCTL_XE_EXEC_QUEUE_DESTROY, &destroy);
}

int __xe_exec(int fd, struct drm_xe_exec *exec)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_EXEC, exec);
}

/* May block up to wait->timeout; the kernel writes the remaining time back. */
int __xe_wait_user_fence(int fd, struct drm_xe_wait_user_fence *wait)
{
	return iovh_ioctl(fd, DRM_IOCTL_XE_WAIT_USER_FENCE, wait);
}
