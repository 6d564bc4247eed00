/* The C core of iovh: one function per system call, returning the call's
 * result (an fd, a count, 0) or -errno. Nothing here prints, allocates
 * behind the caller's back, or decides policy; src/uapi/ and the binding
 * (binding.cc) do that. `__name` is the raw call, in the kernel selftests'
 * and IGT's convention. EINTR is retried: an ioctl
 * interrupted by a signal is not a kernel answer. */
#ifndef IOVH_H
#define IOVH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uapi/vfio.h"
#include "uapi/iommufd.h"
#include "uapi/drm.h"
#include "uapi/xe_drm.h"
#include "uapi/dma-buf.h"
#include "uapi/iovh_ic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fd.c: files and device nodes */
int __fd_open(const char *path, int flags);
int __fd_close(int fd);
ssize_t __fd_pread(int fd, void *buf, size_t len, uint64_t offset);
ssize_t __fd_pwrite(int fd, const void *buf, size_t len, uint64_t offset);
int __fd_ftruncate(int fd, uint64_t size);

/* vfio.c: container, group and device (docs/kernel.md §1-§4) */
int __vfio_get_api_version(int container);
int __vfio_check_extension(int container, int extension);
int __vfio_set_iommu(int container, int type);
int __vfio_group_get_status(int group, struct vfio_group_status *status);
int __vfio_group_set_container(int group, int container);
int __vfio_group_unset_container(int group);
int __vfio_group_get_device_fd(int group, const char *bdf);
int __vfio_device_get_info(int device, struct vfio_device_info *info);
/* `info` heads a buffer of info->argsz bytes (the capability chain follows it). */
int __vfio_device_get_region_info(int device, struct vfio_region_info *info);
int __vfio_device_reset(int device);
/* `feature` heads a buffer holding the payload; argsz is passed as set. */
int __vfio_device_feature(int device, struct vfio_device_feature *feature);
int __vfio_device_bind_iommufd(int device, struct vfio_device_bind_iommufd *bind);
int __vfio_device_attach_iommufd_pt(int device, struct vfio_device_attach_iommufd_pt *attach);
int __vfio_device_detach_iommufd_pt(int device, struct vfio_device_detach_iommufd_pt *detach);

/* Bytes of a VFIO_DEVICE_FEATURE DMA_BUF request holding `nr_ranges` ranges (docs/kernel.md §3.2). */
size_t vfio_dma_buf_request_size(uint64_t nr_ranges);
/* Lay out header, dma_buf struct and `n` ranges ([offset, length] pairs) at `buf`. No syscall. */
void vfio_dma_buf_request_fill(void *buf, uint32_t argsz, uint32_t feature_flags, uint32_t region_index,
			       uint32_t open_flags, uint32_t flags, uint32_t nr_ranges, const uint64_t *ranges,
			       size_t n);

/* iommufd.c: /dev/iommu (docs/iommufd.md) */
int __iommu_destroy(int iommufd, struct iommu_destroy *destroy);
int __iommu_ioas_alloc(int iommufd, struct iommu_ioas_alloc *alloc);
int __iommu_ioas_iova_ranges(int iommufd, struct iommu_ioas_iova_ranges *ranges);
int __iommu_ioas_map_file(int iommufd, struct iommu_ioas_map_file *map);
int __iommu_ioas_unmap(int iommufd, struct iommu_ioas_unmap *unmap);

/* drm.c: DRM core (docs/kernel.md §6) */
int __drm_version(int fd, struct drm_version *version);
int __drm_get_cap(int fd, struct drm_get_cap *cap);
int __drm_prime_fd_to_handle(int fd, struct drm_prime_handle *prime);
int __drm_prime_handle_to_fd(int fd, struct drm_prime_handle *prime);
int __drm_gem_close(int fd, uint32_t handle);
int __drm_syncobj_create(int fd, struct drm_syncobj_create *create);
int __drm_syncobj_destroy(int fd, uint32_t handle);
int __drm_syncobj_wait(int fd, struct drm_syncobj_wait *wait);

/* xe.c: Xe (docs/kernel.md §7) */
int __xe_device_query(int fd, struct drm_xe_device_query *query);
int __xe_gem_create(int fd, struct drm_xe_gem_create *create);
int __xe_gem_mmap_offset(int fd, struct drm_xe_gem_mmap_offset *mmo);
int __xe_vm_create(int fd, struct drm_xe_vm_create *create);
int __xe_vm_destroy(int fd, uint32_t vm_id);
int __xe_vm_bind(int fd, struct drm_xe_vm_bind *bind);
int __xe_exec_queue_create(int fd, struct drm_xe_exec_queue_create *create);
int __xe_exec_queue_destroy(int fd, uint32_t exec_queue_id);
int __xe_exec(int fd, struct drm_xe_exec *exec);
int __xe_wait_user_fence(int fd, struct drm_xe_wait_user_fence *wait);

/* dmabuf.c (docs/kernel.md §10) */
int __dma_buf_set_name(int fd, const char *name);
int __dma_buf_sync(int fd, uint64_t flags);

/* udmabuf.c */
int __udmabuf_create(int fd, struct udmabuf_create *create);

/* iovh_ic.c: the stand-in importer module (/dev/iovh-ic) */
int __iovh_ic_version(int fd, struct iovh_ic_version *version);
int __iovh_ic_import(int fd, struct iovh_ic_import *import);
int __iovh_ic_map(int fd, struct iovh_ic_map *map);
int __iovh_ic_info(int fd, struct iovh_ic_info *info);
int __iovh_ic_rw(int fd, struct iovh_ic_rw *rw);
int __iovh_ic_release(int fd, uint32_t handle);

/* memfd.c */
int __memfd_create(const char *name, unsigned int flags);
int __memfd_add_seals(int fd, int seals);

/* mem.c: mappings */
int __mem_map(int fd, uint64_t offset, size_t length, int prot, void **addr);
int __mem_map_anon(size_t length, void **addr);
int __mem_protect(void *addr, size_t length, int prot);
int __mem_unmap(void *addr, size_t length);
/* Catch SIGBUS from mapped memory that lost its backing (once per process). */
int __mem_guard_install(void);
/* Run access(arg); a SIGBUS inside it ends it early and returns -EFAULT. */
int mem_guarded(void (*access)(void *), void *arg);

/* pattern.c: the data pattern of src/uapi/pattern.ts. `address` is the
 * absolute address of buf[0] (a multiple of 8), `len` a multiple of 8; buf
 * may have any alignment. */
struct pattern_mismatch {
	uint64_t offset; /* of the first mismatching 8-byte word, from buf */
	uint64_t expected;
	uint64_t actual;
};
uint64_t pattern_splitmix64(uint64_t x);
uint64_t pattern_word(uint64_t seed, uint64_t address);
void pattern_fill(void *buf, size_t len, uint64_t seed, uint64_t address);
/* 0: every word matches; 1: *out holds the first mismatch. */
int pattern_verify(const void *buf, size_t len, uint64_t seed, uint64_t address, struct pattern_mismatch *out);
/* The kernels in use ("avx2", "sse2", "generic": the best the CPU runs unless
 * pattern_select chose), the i-th usable one (NULL past the last), and a
 * choice: a name, or NULL for the best again. 0, -EINVAL (no such kernel) or
 * -ENOTSUP (not on this CPU). Process-wide: for tests and benchmarks. */
const char *pattern_isa(void);
const char *pattern_isa_available(size_t i);
int pattern_select(const char *name);
/* Fills of at least this many bytes use non-temporal stores; 0 restores the default. */
size_t pattern_nt_threshold(void);
void pattern_set_nt_threshold(size_t bytes);

#ifdef __cplusplus
}
#endif

#endif
