// Kernel uAPI constants used from TypeScript. Values are from
// docs/kernel.md (computed against Linux 7.2.13 headers) and are
// proven again by `npm run abi-check` through core/uapi/*.h, which hold the same
// numbers for the C core. Struct layouts live in C (and in src/uapi/xe-query.ts
// for the variable-length query blobs the C core hands back as bytes).

export const PAGE_SIZE = 4096;

/** VFIO (include/uapi/linux/vfio.h; docs/kernel.md §1-§3). */
export const VFIO = {
  API_VERSION: 0,
  TYPE1_IOMMU: 1,
  TYPE1v2_IOMMU: 3,
  NOIOMMU_IOMMU: 8,
  GROUP_FLAGS_VIABLE: 1,
  GROUP_FLAGS_CONTAINER_SET: 2,
  DEVICE_FLAGS_RESET: 1,
  DEVICE_FLAGS_PCI: 2,
  DEVICE_FLAGS_CAPS: 0x80,
  REGION_INFO_FLAG_READ: 1,
  REGION_INFO_FLAG_WRITE: 2,
  REGION_INFO_FLAG_MMAP: 4,
  REGION_INFO_FLAG_CAPS: 8,
  REGION_INFO_CAP_SPARSE_MMAP: 1,
  REGION_INFO_CAP_TYPE: 2,
  REGION_INFO_CAP_MSIX_MAPPABLE: 3,
  PCI_BAR0_REGION_INDEX: 0,
  PCI_BAR2_REGION_INDEX: 2,
  PCI_ROM_REGION_INDEX: 6,
  PCI_CONFIG_REGION_INDEX: 7,
  PCI_VGA_REGION_INDEX: 8,
  PCI_NUM_REGIONS: 9,
  PCI_OFFSET_SHIFT: 40n,
  DEVICE_FEATURE_MASK: 0xffff,
  DEVICE_FEATURE_GET: 0x10000,
  DEVICE_FEATURE_SET: 0x20000,
  DEVICE_FEATURE_PROBE: 0x40000,
  FEATURE_PCI_VF_TOKEN: 0,
  /** struct vfio_device_bind_iommufd flags: token_uuid_ptr is valid (include/uapi/linux/vfio.h). */
  DEVICE_BIND_FLAG_TOKEN: 1,
  FEATURE_MIGRATION: 1,
  FEATURE_LOW_POWER_ENTRY: 3,
  FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: 4,
  FEATURE_LOW_POWER_EXIT: 5,
  FEATURE_BUS_MASTER: 10,
  FEATURE_DMA_BUF: 11,
  FEATURE_MIG_PRECOPY_INFOv2: 12,
} as const;

/** Region file offset of a vfio-pci region (VFIO_PCI_OFFSET_SHIFT = 40). */
export function vfioRegionOffset(index: number): bigint {
  return BigInt(index) << VFIO.PCI_OFFSET_SHIFT;
}

/** open(2) flags used with devices and dma-bufs (x86_64). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  NONBLOCK: 0x800,
  CLOEXEC: 0x80000,
  /** O_PATH (include/uapi/asm-generic/fcntl.h): a reference to the path, no file operations. */
  PATH: 0o10000000,
} as const;

export const PROT = { READ: 1, WRITE: 2 } as const;

/** DRM core (include/uapi/drm/drm.h; docs/kernel.md §6). */
export const DRM = {
  CAP_PRIME: 5n,
  PRIME_CAP_IMPORT: 1n,
  PRIME_CAP_EXPORT: 2n,
  CLOEXEC: 0x80000,
  RDWR: 2,
  SYNCOBJ_CREATE_SIGNALED: 1,
  SYNCOBJ_WAIT_FLAGS_WAIT_ALL: 1,
  SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT: 2,
} as const;

/** Xe (include/uapi/drm/xe_drm.h; docs/kernel.md §7). */
export const XE = {
  QUERY_ENGINES: 0,
  QUERY_MEM_REGIONS: 1,
  QUERY_CONFIG: 2,
  QUERY_GT_LIST: 3,
  MEM_REGION_CLASS_SYSMEM: 0,
  MEM_REGION_CLASS_VRAM: 1,
  ENGINE_CLASS_RENDER: 0,
  ENGINE_CLASS_COPY: 1,
  ENGINE_CLASS_VIDEO_DECODE: 2,
  ENGINE_CLASS_VIDEO_ENHANCE: 3,
  ENGINE_CLASS_COMPUTE: 4,
  ENGINE_CLASS_VM_BIND: 5,
  CONFIG_REV_AND_DEVICE_ID: 0,
  CONFIG_FLAGS: 1,
  CONFIG_FLAG_HAS_VRAM: 1,
  CONFIG_MIN_ALIGNMENT: 2,
  CONFIG_VA_BITS: 3,
  GEM_CREATE_FLAG_DEFER_BACKING: 1,
  GEM_CREATE_FLAG_SCANOUT: 2,
  GEM_CREATE_FLAG_NEEDS_VISIBLE_VRAM: 4,
  GEM_CPU_CACHING_WB: 1,
  GEM_CPU_CACHING_WC: 2,
  VM_CREATE_FLAG_SCRATCH_PAGE: 1,
  VM_CREATE_FLAG_LR_MODE: 2,
  VM_CREATE_FLAG_FAULT_MODE: 4,
  VM_BIND_OP_MAP: 0,
  VM_BIND_OP_UNMAP: 1,
  VM_BIND_OP_MAP_USERPTR: 2,
  VM_BIND_OP_UNMAP_ALL: 3,
  VM_BIND_OP_PREFETCH: 4,
  VM_BIND_FLAG_READONLY: 1,
  VM_BIND_FLAG_IMMEDIATE: 2,
  VM_BIND_FLAG_NULL: 4,
  SYNC_TYPE_SYNCOBJ: 0,
  SYNC_TYPE_TIMELINE_SYNCOBJ: 1,
  SYNC_TYPE_USER_FENCE: 2,
  SYNC_FLAG_SIGNAL: 1,
  UFENCE_WAIT_OP_EQ: 0,
  UFENCE_WAIT_OP_NEQ: 1,
  UFENCE_WAIT_OP_GT: 2,
  UFENCE_WAIT_OP_GTE: 3,
  UFENCE_WAIT_OP_LT: 4,
  UFENCE_WAIT_OP_LTE: 5,
  UFENCE_WAIT_FLAG_ABSTIME: 1,
  /** Xe2/Xe3 (BMG) 2-way coherent WB PAT index; IGT intel_get_pat_idx_wb() (docs/kernel.md §7). */
  PAT_INDEX_WB_2WAY_XE2: 2,
  /** Xe2 UC index: rejected for imported BOs (docs/kernel.md §7, §11.8). */
  PAT_INDEX_UC_XE2: 3,
} as const;

/** dma-buf (include/uapi/linux/dma-buf.h; docs/kernel.md §10). */
export const DMA_BUF = {
  SYNC_READ: 1n,
  SYNC_WRITE: 2n,
  SYNC_RW: 3n,
  SYNC_START: 0n,
  SYNC_END: 4n,
  NAME_LEN: 32,
} as const;

/** iommufd (include/uapi/linux/iommufd.h; docs/iommufd.md): map flags. */
export const IOMMU = {
  IOAS_MAP_FIXED_IOVA: 1,
  IOAS_MAP_WRITEABLE: 2,
  IOAS_MAP_READABLE: 4,
} as const;

/** udmabuf and memfd (include/uapi/linux/udmabuf.h, memfd.h, fcntl.h). */
export const UDMABUF = { FLAGS_CLOEXEC: 1 } as const;
export const MFD = { CLOEXEC: 1, ALLOW_SEALING: 2 } as const;
export const F_SEAL = { SEAL: 1, SHRINK: 2, GROW: 4, WRITE: 8 } as const;

/** MI commands (xe/instructions/xe_mi_commands.h; docs/kernel.md §8). */
export const MI = {
  NOOP: 0x00000000,
  BATCH_BUFFER_END: 0x05000000,
  STORE_DATA_IMM_DW: 0x10000002,
  STORE_DATA_IMM_QW: 0x10200003,
  COPY_MEM_MEM: 0x17000003,
} as const;
