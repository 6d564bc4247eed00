// Byte layouts of the kernel structs iovh parses in TypeScript (the
// capability chain of VFIO region info, the Xe query answers), by the
// kernel's struct and field names. The parsers in vfio.ts and xe-query.ts
// read through these tables, and `npm run abi-check`
// (scripts/abi-check-ts.mjs) compares every number here with the kernel's
// uapi header, so a layout change in a new kernel fails there, not in a lab.
// Values: docs/kernel.md §2 and §7 (x86_64).

/** VFIO region-info capabilities (include/uapi/linux/vfio.h). */
export const VFIO_CAP_LAYOUT = {
  vfio_region_info: { size: 32 },
  vfio_info_cap_header: { size: 8, id: 0, version: 2, next: 4 },
  vfio_region_info_cap_sparse_mmap: { size: 16, nr_areas: 8, areas: 16 },
  vfio_region_sparse_mmap_area: { size: 16, offset: 0, size_field: 8 },
  vfio_region_info_cap_type: { size: 16, type: 8, subtype: 12 },
} as const;

/** Xe DEVICE_QUERY answers (include/uapi/drm/xe_drm.h). */
export const XE_QUERY_LAYOUT = {
  drm_xe_query_engines: { size: 8, num_engines: 0, engines: 8 },
  drm_xe_engine: { size: 32, instance: 0 },
  drm_xe_engine_class_instance: { size: 8, engine_class: 0, engine_instance: 2, gt_id: 4 },
  drm_xe_query_mem_regions: { size: 8, num_mem_regions: 0, mem_regions: 8 },
  drm_xe_mem_region: {
    size: 88,
    mem_class: 0,
    instance: 2,
    min_page_size: 4,
    total_size: 8,
    used: 16,
    cpu_visible_size: 24,
    cpu_visible_used: 32,
  },
  drm_xe_query_config: { size: 8, num_params: 0, info: 8 },
  drm_xe_query_gt_list: { size: 8, num_gt: 0, gt_list: 8 },
  drm_xe_gt: {
    size: 96,
    type: 0,
    tile_id: 2,
    gt_id: 4,
    reference_clock: 12,
    near_mem_regions: 16,
    far_mem_regions: 24,
    ip_ver_major: 32,
    ip_ver_minor: 34,
    ip_ver_rev: 36,
  },
} as const;
