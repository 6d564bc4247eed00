// The known bugs of the merged kernel path iovh exercises (VFIO exports a BAR,
// xe or iommufd imports it), as opposed to the RFC's quirks (quirks.ts): a
// scenario that finds one names it, a result lists it under `bugs`, and the
// baseline of a profile whose kernel has it expects it. Each row says which
// kernels have the bug and which fix it (null: no fix merged as of 7.3-rc7),
// and where it comes from; docs/bugs.md tells each one at length. The ids are
// the mock's defect ids too (src/mock/contracts.ts QuirkId), so a profile, a
// baseline and a report use one name for one bug.

export interface BugInfo {
  id: string;
  title: string;
  /** The kernels that have it, in one line. */
  affected: string;
  /** The release or patch that fixes it; null while no fix is merged. */
  fixed: string | null;
  /** The kernel source (file, function) and the report or patch that names it. */
  source: string;
}

export const BUGS = {
  'deferred-unmap-hang': {
    id: 'deferred-unmap-hang',
    title: "revoke never completed: vfio waits for xe's unmap",
    affected: '7.1 and later with xe as the importer (7.1, 7.2.x, 7.3-rc7)',
    fixed: null,
    source:
      'drivers/vfio/pci/vfio_pci_dmabuf.c vfio_pci_dma_buf_move (wait_for_completion, no timeout) with ' +
      'drivers/gpu/drm/xe/xe_bo.c xe_bo_move_dmabuf (the unmap deferred to the next map or the BO destroy); ' +
      'the risk named on the revoke series review, 2026-01-27',
  },
  'kref-underflow': {
    id: 'kref-underflow',
    title: 'closing a VFIO device whose dma-bufs are revoked puts a kref already at 0 and waits forever',
    affected: '7.1 (the revoke series) until the fix',
    fixed: '"vfio/pci: fix dma-buf kref underflow after revoke" (2026-05-07, for 7.1-rc, Cc stable); in 7.2.13',
    source:
      'drivers/vfio/pci/vfio_pci_dmabuf.c vfio_pci_dma_buf_cleanup -> vfio_pci_dma_buf_move(true); ' +
      'Message-ID 20260507143548.1018405-1-alex.williamson@nvidia.com',
  },
  'ttm-attach-uaf': {
    id: 'ttm-attach-uaf',
    title: "a failed xe import frees its BO while the delayed-delete worker still locks the exporter's reservation",
    affected:
      'xe since its introduction (through a VFIO dma-buf from 6.19) until the fix: 6.19, 7.0, 7.1; Debian 7.2.13 has the fix',
    fixed:
      '"drm/xe: Hold a dma-buf reference for imported BOs" (2026-07-10, Cc stable; xe work item 8023); in Debian\'s 7.2.13 source',
    source:
      'drivers/gpu/drm/xe/xe_dma_buf.c xe_gem_prime_import (xe_dma_buf_create_obj makes a ttm_bo_type_sg BO on ' +
      'dma_buf->resv before dma_buf_dynamic_attach; a failed attach puts it), drivers/gpu/drm/ttm/ttm_bo.c ' +
      'ttm_bo_individualize_resv (keeps the shared resv for sg BOs) and ttm_bo_delayed_delete (dma_resv_lock of it later); ' +
      'the fix: xe_bo.c xe_bo_init_locked get_dma_buf, xe_ttm_bo_destroy dma_buf_put',
  },
  'opath-stale-file': {
    id: 'opath-stale-file',
    title: "a dma-buf held only by an O_PATH open outlives its file: vfio's revoke walks the freed file",
    affected: '6.19 and later (every kernel with the vfio dma-buf export; 7.2.13 and 7.3-rc7 have it)',
    fixed: null,
    source:
      'drivers/dma-buf/dma-buf.c dma_buf_release is the dentry release, fs/open.c do_dentry_open keeps an O_PATH ' +
      'file on the dentry, drivers/vfio/pci/vfio_pci_dmabuf.c vfio_pci_dma_buf_move and vfio_pci_dma_buf_cleanup ' +
      'call get_file_active on priv->dmabuf->file, which nothing clears; KASAN slab-use-after-free in get_file_active',
  },
  'p2p-sgt-leak': {
    id: 'p2p-sgt-leak',
    title: "every P2P map of a vfio dma-buf leaks its scatterlist: dma_buf_free_sgt frees none of the table's entries",
    affected:
      'every kernel with dma_buf_phys_vec_to_sgt (drivers/dma-buf/dma-buf-mapping.c, the vfio dma-buf export from 6.19): 7.2.13 has it',
    fixed: null,
    source:
      'drivers/dma-buf/dma-buf-mapping.c dma_buf_phys_vec_to_sgt sets sgt.orig_nents = 0 after sg_alloc_table, and ' +
      'dma_buf_free_sgt calls sg_free_table, which frees orig_nents entries (lib/scatterlist.c __sg_free_table): none; ' +
      'in "dma-buf: provide phys_vec to scatter-gather mapping routine" as posted (v9, 2025-11-20) and in 7.2.13; ' +
      'kmemleak: unreferenced object (size 32) from __sg_alloc_table <- dma_buf_phys_vec_to_sgt <- vfio_pci_dma_buf_map',
  },
} as const satisfies Record<string, BugInfo>;

export type BugName = keyof typeof BUGS;

export function isBugName(id: string): id is BugName {
  return Object.hasOwn(BUGS, id);
}

/**
 * The bug a kmemleak object is, by its allocation backtrace (function names,
 * innermost first: monitors.ts KmemleakObject.functions), or null. A
 * scatterlist chunk that sg_alloc_table allocated (sg_kmalloc: kmalloc, or a
 * page tracked with kmemleak_alloc above SG_MAX_SINGLE_ALLOC entries;
 * lib/scatterlist.c) for dma_buf_phys_vec_to_sgt is p2p-sgt-leak: nothing
 * else frees it once the helper zeroed orig_nents.
 */
export function bugOfKmemleak(functions: readonly string[]): BugName | null {
  const sg = functions.findIndex((f) => f === '__sg_alloc_table' || f === 'sg_alloc_table' || f === 'sg_kmalloc');
  if (sg >= 0 && functions.indexOf('dma_buf_phys_vec_to_sgt', sg) > sg) return 'p2p-sgt-leak';
  return null;
}

/**
 * The bugs whose KASAN report a kernel log shows, by the function the report
 * names and a frame of its call trace (one row per bug; a report of another
 * function is a crash nobody named). The scenario's process may live through
 * a KASAN report (only panic_on_warn kills it), but the runner names the bug
 * from the log either way, as quirks.ts names oopses.
 */
const KASAN_SITES: readonly { fn: RegExp; frame: RegExp; bug: BugName }[] = [
  // vfio_pci_dmabuf.c: get_file_active(&priv->dmabuf->file) of a freed filp (file_ref_get writes f_ref).
  { fn: /^get_file_active$/, frame: /\bvfio_pci_dma_buf_(move|cleanup)\+/, bug: 'opath-stale-file' },
  // ttm_bo.c: the delayed-delete worker locks the resv of a BO whose import failed (wherever the lock inlines to).
  { fn: /./, frame: /\bttm_bo_delayed_delete\+/, bug: 'ttm-attach-uaf' },
];

/** `BUG: KASAN: <kind> in <fn>+0x..` of lib/kasan/report.c print_error_description / start_report. */
const KASAN_HEAD = /\bBUG: KASAN: ([a-z-]+) in ([A-Za-z0-9_.]+)\+0x[0-9a-f]+\/0x[0-9a-f]+/;

/**
 * Lines a KASAN report may take before its excerpt is cut: a whole report of
 * a 7.2 kernel (mm/kasan/report.c: the access, the call trace with the user
 * registers, "Allocated by", "Freed by", the aux stacks, the object, the
 * page, the shadow bytes) is 80-95 lines (85 for vfio's get_file_active
 * use-after-free, test/harness/fixtures/kasan-opath-7.2.13.json); a deeper
 * call trace or more aux stacks add a few dozen at most.
 */
export const KASAN_EXCERPT_LINES = 160;

/** The report's closing line (end_report's `=====` rule). */
const RULE = /^=+$/;

/**
 * The first KASAN report of `log` (kmsg texts, in order): its head line to
 * its closing rule, whole, so that "Freed by" and the object's cache are in
 * it; a report longer than `cap` lines ends with a line saying how many were
 * left out.
 */
export function kasanExcerpt(log: readonly string[], cap = KASAN_EXCERPT_LINES): string[] {
  const start = log.findIndex((l) => KASAN_HEAD.test(l));
  if (start < 0) return [];
  let end = start + 1;
  while (end < log.length && !RULE.test(log[end]!.trim()) && !KASAN_HEAD.test(log[end]!)) end++;
  // The closing rule belongs to the report.
  if (end < log.length && RULE.test(log[end]!.trim())) end++;
  const whole = log.slice(start, end);
  if (whole.length <= cap) return whole;
  const kept = whole.slice(0, cap - 1);
  kept.push(`[... ${whole.length - kept.length} more lines of this KASAN report]`);
  return kept;
}

/** Bugs named by the KASAN reports of `log`, each with its head line. */
export function bugsOfKasan(log: readonly string[]): { id: BugName; head: string }[] {
  const out = new Map<BugName, string>();
  for (let i = 0; i < log.length; i++) {
    const m = KASAN_HEAD.exec(log[i]!);
    if (!m) continue;
    // The report's call trace: the lines up to the next report or the ===== closing line.
    const trace: string[] = [log[i]!];
    for (let j = i + 1; j < log.length && trace.length < KASAN_EXCERPT_LINES; j++) {
      if (KASAN_HEAD.test(log[j]!) || RULE.test(log[j]!.trim())) break;
      trace.push(log[j]!);
    }
    for (const s of KASAN_SITES)
      if (s.fn.test(m[2]!) && trace.some((l) => s.frame.test(l)) && !out.has(s.bug)) out.set(s.bug, log[i]!.trim());
  }
  return [...out].map(([id, head]) => ({ id, head }));
}
