/* Xe uAPI (include/uapi/drm/xe_drm.h of Linux 7.2; docs/kernel.md §7), the
 * structs and ioctls iovh uses, with the kernel's names. */
#ifndef IOVH_UAPI_XE_DRM_H
#define IOVH_UAPI_XE_DRM_H

#include <stdint.h>
#include "drm.h"

#define DRM_XE_DEVICE_QUERY 0x00
#define DRM_XE_GEM_CREATE 0x01
#define DRM_XE_GEM_MMAP_OFFSET 0x02
#define DRM_XE_VM_CREATE 0x03
#define DRM_XE_VM_DESTROY 0x04
#define DRM_XE_VM_BIND 0x05
#define DRM_XE_EXEC_QUEUE_CREATE 0x06
#define DRM_XE_EXEC_QUEUE_DESTROY 0x07
#define DRM_XE_EXEC 0x09
#define DRM_XE_WAIT_USER_FENCE 0x0a

struct drm_xe_device_query {
	uint64_t extensions;
	uint32_t query;
	uint32_t size;
	uint64_t data;
	uint64_t reserved[2];
};
#define DRM_XE_DEVICE_QUERY_ENGINES 0
#define DRM_XE_DEVICE_QUERY_MEM_REGIONS 1
#define DRM_XE_DEVICE_QUERY_CONFIG 2
#define DRM_XE_DEVICE_QUERY_GT_LIST 3
IOVH_ASSERT_SIZE(struct drm_xe_device_query, 40);
IOVH_ASSERT_OFF(struct drm_xe_device_query, query, 8);
IOVH_ASSERT_OFF(struct drm_xe_device_query, size, 12);
IOVH_ASSERT_OFF(struct drm_xe_device_query, data, 16);
IOVH_ASSERT_OFF(struct drm_xe_device_query, reserved, 24);

/* Query answers (parsed in src/uapi/xe-query.ts; sizes checked here and by abi-check). */
struct drm_xe_engine_class_instance {
	uint16_t engine_class;
	uint16_t engine_instance;
	uint16_t gt_id;
	uint16_t pad;
};
#define DRM_XE_ENGINE_CLASS_RENDER 0
#define DRM_XE_ENGINE_CLASS_COPY 1
#define DRM_XE_ENGINE_CLASS_VIDEO_DECODE 2
#define DRM_XE_ENGINE_CLASS_VIDEO_ENHANCE 3
#define DRM_XE_ENGINE_CLASS_COMPUTE 4
#define DRM_XE_ENGINE_CLASS_VM_BIND 5
IOVH_ASSERT_SIZE(struct drm_xe_engine_class_instance, 8);
IOVH_ASSERT_OFF(struct drm_xe_engine_class_instance, engine_instance, 2);
IOVH_ASSERT_OFF(struct drm_xe_engine_class_instance, gt_id, 4);
IOVH_ASSERT_OFF(struct drm_xe_engine_class_instance, pad, 6);

struct drm_xe_engine {
	struct drm_xe_engine_class_instance instance;
	uint64_t reserved[3];
};
IOVH_ASSERT_SIZE(struct drm_xe_engine, 32);
IOVH_ASSERT_OFF(struct drm_xe_engine, reserved, 8);

struct drm_xe_query_engines {
	uint32_t num_engines;
	uint32_t pad;
	struct drm_xe_engine engines[];
};
IOVH_ASSERT_SIZE(struct drm_xe_query_engines, 8);
IOVH_ASSERT_OFF(struct drm_xe_query_engines, engines, 8);

struct drm_xe_mem_region {
	uint16_t mem_class;
	uint16_t instance;
	uint32_t min_page_size;
	uint64_t total_size;
	uint64_t used;
	uint64_t cpu_visible_size;
	uint64_t cpu_visible_used;
	uint64_t reserved[6];
};
#define DRM_XE_MEM_REGION_CLASS_SYSMEM 0
#define DRM_XE_MEM_REGION_CLASS_VRAM 1
IOVH_ASSERT_SIZE(struct drm_xe_mem_region, 88);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, instance, 2);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, min_page_size, 4);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, total_size, 8);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, used, 16);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, cpu_visible_size, 24);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, cpu_visible_used, 32);
IOVH_ASSERT_OFF(struct drm_xe_mem_region, reserved, 40);

struct drm_xe_query_mem_regions {
	uint32_t num_mem_regions;
	uint32_t pad;
	struct drm_xe_mem_region mem_regions[];
};
IOVH_ASSERT_SIZE(struct drm_xe_query_mem_regions, 8);
IOVH_ASSERT_OFF(struct drm_xe_query_mem_regions, mem_regions, 8);

struct drm_xe_query_config {
	uint32_t num_params;
	uint32_t pad;
	uint64_t info[];
};
#define DRM_XE_QUERY_CONFIG_REV_AND_DEVICE_ID 0
#define DRM_XE_QUERY_CONFIG_FLAGS 1
#define DRM_XE_QUERY_CONFIG_FLAG_HAS_VRAM (1 << 0)
#define DRM_XE_QUERY_CONFIG_MIN_ALIGNMENT 2
#define DRM_XE_QUERY_CONFIG_VA_BITS 3
#define DRM_XE_QUERY_CONFIG_MAX_EXEC_QUEUE_PRIORITY 4
IOVH_ASSERT_SIZE(struct drm_xe_query_config, 8);
IOVH_ASSERT_OFF(struct drm_xe_query_config, info, 8);

struct drm_xe_gt {
	uint16_t type;
	uint16_t tile_id;
	uint16_t gt_id;
	uint16_t pad[3];
	uint32_t reference_clock;
	uint64_t near_mem_regions;
	uint64_t far_mem_regions;
	uint16_t ip_ver_major;
	uint16_t ip_ver_minor;
	uint16_t ip_ver_rev;
	uint16_t pad2;
	uint64_t reserved[7];
};
#define DRM_XE_QUERY_GT_TYPE_MAIN 0
#define DRM_XE_QUERY_GT_TYPE_MEDIA 1
IOVH_ASSERT_SIZE(struct drm_xe_gt, 96);
IOVH_ASSERT_OFF(struct drm_xe_gt, tile_id, 2);
IOVH_ASSERT_OFF(struct drm_xe_gt, gt_id, 4);
IOVH_ASSERT_OFF(struct drm_xe_gt, reference_clock, 12);
IOVH_ASSERT_OFF(struct drm_xe_gt, near_mem_regions, 16);
IOVH_ASSERT_OFF(struct drm_xe_gt, far_mem_regions, 24);
IOVH_ASSERT_OFF(struct drm_xe_gt, ip_ver_major, 32);
IOVH_ASSERT_OFF(struct drm_xe_gt, ip_ver_minor, 34);
IOVH_ASSERT_OFF(struct drm_xe_gt, ip_ver_rev, 36);
IOVH_ASSERT_OFF(struct drm_xe_gt, reserved, 40);

struct drm_xe_query_gt_list {
	uint32_t num_gt;
	uint32_t pad;
	struct drm_xe_gt gt_list[];
};
IOVH_ASSERT_SIZE(struct drm_xe_query_gt_list, 8);
IOVH_ASSERT_OFF(struct drm_xe_query_gt_list, gt_list, 8);

struct drm_xe_gem_create {
	uint64_t extensions;
	uint64_t size;
	uint32_t placement;
	uint32_t flags;
	uint32_t vm_id;
	uint32_t handle;
	uint16_t cpu_caching;
	uint16_t pad[3];
	uint64_t reserved[2];
};
#define DRM_XE_GEM_CREATE_FLAG_DEFER_BACKING (1 << 0)
#define DRM_XE_GEM_CREATE_FLAG_SCANOUT (1 << 1)
#define DRM_XE_GEM_CREATE_FLAG_NEEDS_VISIBLE_VRAM (1 << 2)
#define DRM_XE_GEM_CPU_CACHING_WB 1
#define DRM_XE_GEM_CPU_CACHING_WC 2
IOVH_ASSERT_SIZE(struct drm_xe_gem_create, 56);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, size, 8);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, placement, 16);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, flags, 20);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, vm_id, 24);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, handle, 28);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, cpu_caching, 32);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, pad, 34);
IOVH_ASSERT_OFF(struct drm_xe_gem_create, reserved, 40);

struct drm_xe_gem_mmap_offset {
	uint64_t extensions;
	uint32_t handle;
	uint32_t flags;
	uint64_t offset;
	uint64_t reserved[2];
};
IOVH_ASSERT_SIZE(struct drm_xe_gem_mmap_offset, 40);
IOVH_ASSERT_OFF(struct drm_xe_gem_mmap_offset, handle, 8);
IOVH_ASSERT_OFF(struct drm_xe_gem_mmap_offset, flags, 12);
IOVH_ASSERT_OFF(struct drm_xe_gem_mmap_offset, offset, 16);
IOVH_ASSERT_OFF(struct drm_xe_gem_mmap_offset, reserved, 24);

struct drm_xe_vm_create {
	uint64_t extensions;
	uint32_t flags;
	uint32_t vm_id;
	uint64_t reserved[2];
};
#define DRM_XE_VM_CREATE_FLAG_SCRATCH_PAGE (1 << 0)
#define DRM_XE_VM_CREATE_FLAG_LR_MODE (1 << 1)
#define DRM_XE_VM_CREATE_FLAG_FAULT_MODE (1 << 2)
IOVH_ASSERT_SIZE(struct drm_xe_vm_create, 32);
IOVH_ASSERT_OFF(struct drm_xe_vm_create, flags, 8);
IOVH_ASSERT_OFF(struct drm_xe_vm_create, vm_id, 12);
IOVH_ASSERT_OFF(struct drm_xe_vm_create, reserved, 16);

struct drm_xe_vm_destroy {
	uint32_t vm_id;
	uint32_t pad;
	uint64_t reserved[2];
};
IOVH_ASSERT_SIZE(struct drm_xe_vm_destroy, 24);
IOVH_ASSERT_OFF(struct drm_xe_vm_destroy, pad, 4);
IOVH_ASSERT_OFF(struct drm_xe_vm_destroy, reserved, 8);

struct drm_xe_vm_bind_op {
	uint64_t extensions;
	uint32_t obj;
	uint16_t pat_index;
	uint16_t pad;
	union {
		uint64_t obj_offset;
		uint64_t userptr;
		int64_t cpu_addr_mirror_offset;
	};
	uint64_t range;
	uint64_t addr;
	uint32_t op;
	uint32_t flags;
	uint32_t prefetch_mem_region_instance;
	uint32_t pad2;
	uint64_t reserved[3];
};
#define DRM_XE_VM_BIND_OP_MAP 0x0
#define DRM_XE_VM_BIND_OP_UNMAP 0x1
#define DRM_XE_VM_BIND_OP_MAP_USERPTR 0x2
#define DRM_XE_VM_BIND_OP_UNMAP_ALL 0x3
#define DRM_XE_VM_BIND_OP_PREFETCH 0x4
#define DRM_XE_VM_BIND_FLAG_READONLY (1 << 0)
#define DRM_XE_VM_BIND_FLAG_IMMEDIATE (1 << 1)
#define DRM_XE_VM_BIND_FLAG_NULL (1 << 2)
#define DRM_XE_VM_BIND_FLAG_DUMPABLE (1 << 3)
IOVH_ASSERT_SIZE(struct drm_xe_vm_bind_op, 80);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, obj, 8);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, pat_index, 12);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, pad, 14);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, obj_offset, 16);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, userptr, 16);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, range, 24);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, addr, 32);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, op, 40);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, flags, 44);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, prefetch_mem_region_instance, 48);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, pad2, 52);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind_op, reserved, 56);

struct drm_xe_vm_bind {
	uint64_t extensions;
	uint32_t vm_id;
	uint32_t exec_queue_id;
	uint32_t pad;
	uint32_t num_binds;
	union {
		struct drm_xe_vm_bind_op bind;
		uint64_t vector_of_binds;
	};
	uint32_t pad2;
	uint32_t num_syncs;
	uint64_t syncs;
	uint64_t reserved[2];
};
IOVH_ASSERT_SIZE(struct drm_xe_vm_bind, 136);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, vm_id, 8);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, exec_queue_id, 12);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, pad, 16);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, num_binds, 20);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, bind, 24);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, vector_of_binds, 24);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, pad2, 104);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, num_syncs, 108);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, syncs, 112);
IOVH_ASSERT_OFF(struct drm_xe_vm_bind, reserved, 120);

struct drm_xe_exec_queue_create {
	uint64_t extensions;
	uint16_t width;
	uint16_t num_placements;
	uint32_t vm_id;
	uint32_t flags;
	uint32_t exec_queue_id;
	uint64_t instances;
	uint64_t reserved[2];
};
IOVH_ASSERT_SIZE(struct drm_xe_exec_queue_create, 48);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, width, 8);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, num_placements, 10);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, vm_id, 12);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, flags, 16);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, exec_queue_id, 20);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, instances, 24);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_create, reserved, 32);

struct drm_xe_exec_queue_destroy {
	uint32_t exec_queue_id;
	uint32_t pad;
	uint64_t reserved[2];
};
IOVH_ASSERT_SIZE(struct drm_xe_exec_queue_destroy, 24);
IOVH_ASSERT_OFF(struct drm_xe_exec_queue_destroy, reserved, 8);

struct drm_xe_sync {
	uint64_t extensions;
	uint32_t type;
	uint32_t flags;
	union {
		uint32_t handle;
		uint64_t addr;
	};
	uint64_t timeline_value;
	uint64_t reserved[2];
};
#define DRM_XE_SYNC_TYPE_SYNCOBJ 0x0
#define DRM_XE_SYNC_TYPE_TIMELINE_SYNCOBJ 0x1
#define DRM_XE_SYNC_TYPE_USER_FENCE 0x2
#define DRM_XE_SYNC_FLAG_SIGNAL (1 << 0)
IOVH_ASSERT_SIZE(struct drm_xe_sync, 48);
IOVH_ASSERT_OFF(struct drm_xe_sync, type, 8);
IOVH_ASSERT_OFF(struct drm_xe_sync, flags, 12);
IOVH_ASSERT_OFF(struct drm_xe_sync, handle, 16);
IOVH_ASSERT_OFF(struct drm_xe_sync, addr, 16);
IOVH_ASSERT_OFF(struct drm_xe_sync, timeline_value, 24);
IOVH_ASSERT_OFF(struct drm_xe_sync, reserved, 32);

struct drm_xe_exec {
	uint64_t extensions;
	uint32_t exec_queue_id;
	uint32_t num_syncs;
	uint64_t syncs;
	uint64_t address;
	uint16_t num_batch_buffer;
	uint16_t pad[3];
	uint64_t reserved[2];
};
#define DRM_XE_MAX_SYNCS 1024
IOVH_ASSERT_SIZE(struct drm_xe_exec, 56);
IOVH_ASSERT_OFF(struct drm_xe_exec, exec_queue_id, 8);
IOVH_ASSERT_OFF(struct drm_xe_exec, num_syncs, 12);
IOVH_ASSERT_OFF(struct drm_xe_exec, syncs, 16);
IOVH_ASSERT_OFF(struct drm_xe_exec, address, 24);
IOVH_ASSERT_OFF(struct drm_xe_exec, num_batch_buffer, 32);
IOVH_ASSERT_OFF(struct drm_xe_exec, pad, 34);
IOVH_ASSERT_OFF(struct drm_xe_exec, reserved, 40);

struct drm_xe_wait_user_fence {
	uint64_t extensions;
	uint64_t addr;
	uint16_t op;
	uint16_t flags;
	uint32_t pad;
	uint64_t value;
	uint64_t mask;
	int64_t timeout;
	uint32_t exec_queue_id;
	uint32_t pad2;
	uint64_t reserved[2];
};
#define DRM_XE_UFENCE_WAIT_OP_EQ 0x0
#define DRM_XE_UFENCE_WAIT_OP_NEQ 0x1
#define DRM_XE_UFENCE_WAIT_OP_GT 0x2
#define DRM_XE_UFENCE_WAIT_OP_GTE 0x3
#define DRM_XE_UFENCE_WAIT_OP_LT 0x4
#define DRM_XE_UFENCE_WAIT_OP_LTE 0x5
#define DRM_XE_UFENCE_WAIT_FLAG_ABSTIME (1 << 0)
IOVH_ASSERT_SIZE(struct drm_xe_wait_user_fence, 72);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, addr, 8);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, op, 16);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, flags, 18);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, pad, 20);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, value, 24);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, mask, 32);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, timeout, 40);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, exec_queue_id, 48);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, pad2, 52);
IOVH_ASSERT_OFF(struct drm_xe_wait_user_fence, reserved, 56);

#define DRM_IOCTL_XE_DEVICE_QUERY DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_DEVICE_QUERY, struct drm_xe_device_query)
#define DRM_IOCTL_XE_GEM_CREATE DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_GEM_CREATE, struct drm_xe_gem_create)
#define DRM_IOCTL_XE_GEM_MMAP_OFFSET DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_GEM_MMAP_OFFSET, struct drm_xe_gem_mmap_offset)
#define DRM_IOCTL_XE_VM_CREATE DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_VM_CREATE, struct drm_xe_vm_create)
#define DRM_IOCTL_XE_VM_DESTROY DRM_IOW(DRM_COMMAND_BASE + DRM_XE_VM_DESTROY, struct drm_xe_vm_destroy)
#define DRM_IOCTL_XE_VM_BIND DRM_IOW(DRM_COMMAND_BASE + DRM_XE_VM_BIND, struct drm_xe_vm_bind)
#define DRM_IOCTL_XE_EXEC_QUEUE_CREATE DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_EXEC_QUEUE_CREATE, struct drm_xe_exec_queue_create)
#define DRM_IOCTL_XE_EXEC_QUEUE_DESTROY DRM_IOW(DRM_COMMAND_BASE + DRM_XE_EXEC_QUEUE_DESTROY, struct drm_xe_exec_queue_destroy)
#define DRM_IOCTL_XE_EXEC DRM_IOW(DRM_COMMAND_BASE + DRM_XE_EXEC, struct drm_xe_exec)
#define DRM_IOCTL_XE_WAIT_USER_FENCE DRM_IOWR(DRM_COMMAND_BASE + DRM_XE_WAIT_USER_FENCE, struct drm_xe_wait_user_fence)
IOVH_ASSERT_REQ(DRM_IOCTL_XE_DEVICE_QUERY, 0xC0286440);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_GEM_CREATE, 0xC0386441);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_GEM_MMAP_OFFSET, 0xC0286442);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_VM_CREATE, 0xC0206443);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_VM_DESTROY, 0x40186444);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_VM_BIND, 0x40886445);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_EXEC_QUEUE_CREATE, 0xC0306446);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_EXEC_QUEUE_DESTROY, 0x40186447);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_EXEC, 0x40386449);
IOVH_ASSERT_REQ(DRM_IOCTL_XE_WAIT_USER_FENCE, 0xC048644A);

#endif
