// Call-trace frames of the mock's KASAN reports, as the kernel prints them
// (`function+offset/size`: the return address inside the caller and the
// kallsyms size, the distance to the next symbol).
//
// KASAN reports come only from a KASAN kernel, and the one iovh builds is
// Debian's 7.2.13 source with kconfig/iovh-guest.config (docs/kernels.md:
// everything built in, so no `[module]` suffix). The offsets below were read
// from that build's vmlinux (objdump of each caller's call to the next frame;
// System.map for the sizes), and agree with the report the real guest printed
// (test/harness/fixtures/kasan-opath-7.2.13.json). Which frames a report
// shows follows what triggered it: the same vfio_pci_dma_buf_move under a
// close, a VFIO_DEVICE_RESET, a config-space write or a low-power feature
// (drivers/vfio/pci/vfio_pci_config.c, vfio_pci_core.c, vfio_pci_dmabuf.c).
// Static functions the compiler inlined (vfio_pci_ioctl_reset,
// vfio_lock_and_set_power_state, vfio_pci_core_pm_entry) and tail calls
// (vfio_pci_core_write -> vfio_pci_rw, vfio_device_fops_write ->
// ops->write) leave no frame, as on the real kernel.

/** A system call's entry, below every syscall frame. */
const ENTRY = ['do_syscall_64+0x7d/0x460', 'entry_SYSCALL_64_after_hwframe+0x4b/0x53'];

/** mm/kasan/report.c kasan_report's frames above the bad access (KASAN_INLINE: kasan_check_range from the instrumented atomic). */
export const KASAN_REPORT_FRAMES = ['dump_stack_lvl+0x66/0x90', 'print_report+0xce/0x620', 'kasan_report+0xe0/0x110'];

/** fs/file.c get_file_active's file_ref_get (the write KASAN catches) and the check above it. */
export const GET_FILE_ACTIVE = ['kasan_check_range+0xfc/0x1a0', 'get_file_active+0x7f/0x1e0'];

/** vfio_pci_dma_buf_move's get_file_active call (the return address in its list walk). */
export const MOVE_FRAME = 'vfio_pci_dma_buf_move+0x29a/0x610';

/** The last close of a VFIO device fd below vfio_pci_core_close_device, legacy group path or cdev. */
function closeFrom(cdev: boolean): string[] {
  return [
    'vfio_df_close+0x210/0x410',
    ...(cdev ? ['vfio_df_unbind_iommufd+0x92/0x160'] : ['vfio_df_group_close+0x97/0x150']),
    cdev ? 'vfio_device_fops_release+0x90/0xc0' : 'vfio_device_fops_release+0x72/0xc0',
    '__fput+0x19c/0x720',
    'fput_close_sync+0xd8/0x160',
    '__x64_sys_close+0x7d/0xd0',
    ...ENTRY,
  ];
}

/** What is under the get_file_active of a revoke, by what triggered it. */
export type RevokeTrigger =
  /** vfio_pci_core_close_device -> vfio_pci_dma_buf_cleanup -> vfio_pci_dma_buf_move(vdev, true) */
  | { kind: 'close-move'; cdev: boolean }
  /** vfio_pci_dma_buf_cleanup's own list walk */
  | { kind: 'close-cleanup'; cdev: boolean }
  /** vfio_pci_core_close_device -> vfio_pci_core_disable -> vfio_pci_runtime_pm_exit -> move(vdev, false) */
  | { kind: 'close-pm-exit'; cdev: boolean }
  /** VFIO_DEVICE_RESET: vfio_pci_core_ioctl (vfio_pci_ioctl_reset inlined), revoke before the reset, undo after */
  | { kind: 'reset'; undo: boolean }
  /** pwrite of config space: PCI_COMMAND (vfio_basic_config_write), PMCSR (vfio_pm_config_write), DEVCTL FLR (vfio_exp_config_write) */
  | { kind: 'config'; writer: 'command' | 'pm' | 'flr'; undo: boolean }
  /** VFIO_DEVICE_FEATURE LOW_POWER_ENTRY (revoke) / LOW_POWER_EXIT (undo) */
  | { kind: 'low-power'; undo: boolean };

const UNL_IOCTL_FEATURE = 'vfio_device_fops_unl_ioctl+0xcea/0x1340';
const UNL_IOCTL_OPS = 'vfio_device_fops_unl_ioctl+0x4a3/0x1340';
const SYS_IOCTL = '__x64_sys_ioctl+0x714/0x12c0';

/** The frames under vfio_pci_dma_buf_move's (or the cleanup's) get_file_active, innermost first. */
export function revokeFrames(t: RevokeTrigger): string[] {
  switch (t.kind) {
    case 'close-move':
      return [
        MOVE_FRAME,
        'vfio_pci_dma_buf_cleanup+0x41/0x270',
        'vfio_pci_core_close_device+0x18c/0x240',
        ...closeFrom(t.cdev),
      ];
    case 'close-cleanup':
      return ['vfio_pci_dma_buf_cleanup+0xc2/0x270', 'vfio_pci_core_close_device+0x18c/0x240', ...closeFrom(t.cdev)];
    case 'close-pm-exit':
      return [
        MOVE_FRAME,
        'vfio_pci_runtime_pm_exit+0xc4/0xf0',
        'vfio_pci_core_disable+0x90/0xcf0',
        'vfio_pci_core_close_device+0x194/0x240',
        ...closeFrom(t.cdev),
      ];
    case 'reset':
      return [
        MOVE_FRAME,
        t.undo ? 'vfio_pci_core_ioctl+0x1145/0x1500' : 'vfio_pci_core_ioctl+0xc48/0x1500',
        UNL_IOCTL_OPS,
        SYS_IOCTL,
        ...ENTRY,
      ];
    case 'config': {
      const writer = {
        command: t.undo ? 'vfio_basic_config_write+0x7d7/0xa40' : 'vfio_basic_config_write+0x214/0xa40',
        pm: t.undo ? 'vfio_pm_config_write+0x16f/0x1d0' : 'vfio_pm_config_write+0x6c/0x1d0',
        flr: t.undo ? 'vfio_exp_config_write+0x3eb/0x530' : 'vfio_exp_config_write+0x2bb/0x530',
      }[t.writer];
      return [
        MOVE_FRAME,
        writer,
        'vfio_pci_config_rw_single+0x384/0x810',
        'vfio_pci_config_rw+0xcf/0x160',
        'vfio_pci_rw+0x15d/0x270',
        'vfs_write+0x1cd/0xeb0',
        '__x64_sys_pwrite64+0x168/0x1c0',
        ...ENTRY,
      ];
    }
    case 'low-power':
      return [
        MOVE_FRAME,
        t.undo ? 'vfio_pci_runtime_pm_exit+0xc4/0xf0' : 'vfio_pci_runtime_pm_entry+0x91/0x130',
        t.undo ? 'vfio_pci_core_ioctl_feature+0x10f/0x360' : 'vfio_pci_core_ioctl_feature+0xe8/0x360',
        UNL_IOCTL_FEATURE,
        SYS_IOCTL,
        ...ENTRY,
      ];
  }
}

/** Where a dma-buf's file was allocated: VFIO_DEVICE_FEATURE(DMA_BUF) -> dma_buf_export -> alloc_file_pseudo. */
export const DMABUF_FILE_ALLOCATED = [
  'kasan_save_stack+0x33/0x50',
  'kasan_save_track+0x14/0x30',
  '__kasan_slab_alloc+0x66/0x70',
  'kmem_cache_alloc_noprof+0x1cf/0x500',
  'alloc_empty_file+0x4c/0x170',
  'alloc_file_pseudo+0x149/0x210',
  'dma_buf_export+0x2d9/0xb00',
  'vfio_pci_core_feature_dma_buf+0x46e/0x9c0',
  'vfio_pci_core_ioctl_feature+0x8c/0x360',
  UNL_IOCTL_FEATURE,
  SYS_IOCTL,
  ...ENTRY,
];

/** A filp freed after its RCU grace period with SLUB_RCU_DEBUG (mm/slub.c slab_free_after_rcu_debug, from the RCU softirq). */
export const FILP_FREED_RCU = [
  'kasan_save_stack+0x33/0x50',
  'kasan_save_track+0x14/0x30',
  'kasan_save_free_info+0x3b/0x60',
  '__kasan_slab_free+0x3f/0x60',
  'slab_free_after_rcu_debug+0xd7/0x230',
  'rcu_core+0x540/0xf70',
  'handle_softirqs+0x1ff/0x8f0',
  'irq_exit_rcu+0xbe/0x120',
  'sysvec_apic_timer_interrupt+0x36/0x80',
  'asm_sysvec_apic_timer_interrupt+0x1a/0x20',
];

/** The close that queued the RCU free (KASAN's aux stack: kasan_record_aux_stack from kmem_cache_free's call_rcu). */
export const FILP_FREE_QUEUED = [
  'kasan_save_stack+0x33/0x50',
  'kasan_record_aux_stack+0x8c/0xa0',
  'kmem_cache_free+0x1bc/0x560',
  'fput_close_sync+0xd8/0x160',
  '__x64_sys_close+0x7d/0xd0',
  ...ENTRY,
];

/**
 * The TTM delayed-delete worker locking an imported BO's reservation
 * (drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_delayed_delete -> dma_resv_lock ->
 * ww_mutex_lock). The first access to the lock in __ww_mutex_lock is
 * DEBUG_MUTEXES' `lock->magic` check (kernel/locking/mutex.c
 * __mutex_lock_common, MUTEX_WARN_ON), a read of 8 bytes 88 bytes into the
 * mutex. The locking and workqueue frames are the guest build's; ttm is not
 * built there (no DRM in kconfig/iovh-guest.config), so ttm_bo_delayed_delete's
 * offset is not measured.
 */
export const TTM_DELAYED_DELETE = [
  ...KASAN_REPORT_FRAMES,
  '__ww_mutex_lock.constprop.0+0x2850/0x49d0',
  'ww_mutex_lock+0x37/0x160',
  'ttm_bo_delayed_delete+0x5c/0xa0 [ttm]',
  'process_one_work+0x7d0/0x1680',
  'worker_thread+0x5dc/0x1020',
  'kthread+0x35d/0x480',
  'ret_from_fork+0x57f/0x730',
  'ret_from_fork_asm+0x11/0x20',
];

/** The access TTM_DELAYED_DELETE reports: __ww_mutex_lock's return address after its KASAN check of lock->magic. */
export const TTM_DELAYED_DELETE_FN = '__ww_mutex_lock.constprop.0+0x2850/0x49d0';

/** A VFIO dma-buf's struct dma_buf with its embedded reservation object: kzalloc in dma_buf_export (drivers/dma-buf/dma-buf.c). */
export const DMABUF_ALLOCATED = [
  'kasan_save_stack+0x33/0x50',
  'kasan_save_track+0x14/0x30',
  '__kasan_kmalloc+0x87/0x90',
  '__kmalloc_noprof+0x26b/0x5f0',
  'dma_buf_export+0x322/0xb00',
  'vfio_pci_core_feature_dma_buf+0x46e/0x9c0',
  'vfio_pci_core_ioctl_feature+0x8c/0x360',
  UNL_IOCTL_FEATURE,
  SYS_IOCTL,
  ...ENTRY,
];

/** Freed by the last close of the dma-buf fd: __fput -> dput -> dentry_kill -> dma_buf_release (the dentry's d_release) -> kfree. */
export const DMABUF_FREED = [
  'kasan_save_stack+0x33/0x50',
  'kasan_save_track+0x14/0x30',
  'kasan_save_free_info+0x3b/0x60',
  '__kasan_slab_free+0x3f/0x60',
  'kfree+0x13c/0x510',
  'dma_buf_release+0x1db/0x270',
  'dentry_kill+0x241/0xa20',
  '__fput+0x26d/0x720',
  'fput_close_sync+0xd8/0x160',
  '__x64_sys_close+0x7d/0xd0',
  ...ENTRY,
];

/**
 * sizeof(struct dma_buf) and sizeof(struct dma_resv) of the guest build
 * (compiled against its objtree: 344 and 160); dma_buf_export allocates both
 * in one kzalloc when the exporter brings no reservation object (vfio does
 * not), so the object is a kmalloc-512 one and the resv starts 344 bytes in.
 */
export const DMABUF_ALLOC = { size: 504, cache: 'kmalloc-512', objectSize: 512, resvAt: 344, magicAt: 88 };
