// The kernel lines and interconnect revisions iovh knows, one row each: what
// /proc/kallsyms lists for that kernel (what detect.ts matches a running
// kernel against), the kprobe points that show which path an import took
// there, and one line on what the kernel does with a VF BAR that xe imports.
// docs/profiles.md tells the story of each row with its kernel sources.
//
// Markers are dma-buf core symbols: CONFIG_DMA_SHARED_BUFFER is a bool, so
// they are in vmlinux and listed whether or not vfio-pci or xe is loaded
// (module symbols appear only while the module is loaded). The probe points
// are in modules too: arming them is the harness's business (a missing one
// is "no evidence").
//
// A new revision of the series, or the mapping-type IOV type once its names
// are public, is a new row or an edit of MAPTYPE_IOV_TYPE, never a rewrite.

/** What a probe point shows (the path classifier, src/harness/path.ts, reads these keys). */
export type ProbeKey =
  | 'match' // return of the core match helper: true = an interconnect matched
  | 'exporterMatch' // return of the exporter's match op: true = IOV match
  | 'importerOffers' // entry of the importer's offer: xe asked to match
  | 'mapInterconnect' // return of the core interconnect map: non-error pointer = ranges handed over
  | 'exporterMapInterconnect' // return of the exporter's interconnect map: 0 = ok
  | 'translate' // entry of the LMEM object lookup: arg2 = vfid
  | 'translateRet' // its return: non-NULL = translated
  | 'unmapInterconnect' // entry of the core interconnect unmap
  | 'exporterSgMap' // entry of vfio's map_dma_buf: the ordinary (P2P) path
  | 'sgMap' // entry of the core's scatter-gather map: the ordinary path, seen from the core
  | 'importerRevoke' // entry of iommufd's invalidate_mappings (iopt_revoke_notify): an exporter revoked a mapped dma-buf
  | 'p2pRoute'; // return of pci_p2pdma_map_type: the route a P2P map takes (P2P_ROUTES)

export interface ProbePoint {
  key: ProbeKey;
  symbol: string;
  kind: 'entry' | 'return';
  /** kprobe fetch-args (Documentation/trace/kprobetrace.rst): `$argN` at entry, `$retval` at return. */
  fetch: string;
  /**
   * The function returns a C `bool`: the x86-64 ABI defines only %al, the
   * rest of RAX is whatever the function left there, so only the low byte is
   * the answer. Fetched as `$retval:u8` and judged by its low byte.
   */
  bool?: boolean;
  /**
   * The function may run outside the task that caused it, so its hits are not
   * filtered by task (src/harness/tracefs.ts): the unmap at the end of an
   * imported BO's life runs wherever TTM destroys the BO, which may be its
   * delayed-delete worker (drivers/gpu/drm/ttm/ttm_bo.c ttm_bo_release).
   */
  anyTask?: boolean;
}

/** An IOV import path: the symbols that prove it and the probes that watch it. */
export interface IovPath {
  /** What it is called in reports. */
  name: string;
  /** Symbols that must all be listed for the path to be there. */
  markers: readonly string[];
  probes: readonly ProbePoint[];
}

export type ShapeName = 'upstream-6.19' | 'upstream-7.0' | 'upstream-7.1' | 'rfc-v1' | 'rfc-v2' | 'maptype-rfc';

/** [major, minor]: a kernel line. */
export type Line = readonly [major: number, minor: number];

export interface ShapeRow {
  name: ShapeName;
  /** The kernels this row stands for, in words. */
  kernel: string;
  /** Where the names come from (a reader can open every one of them). */
  source: string;
  /** Symbols /proc/kallsyms must list. */
  require: readonly string[];
  /** Symbols it must not list (the rows are disjoint: see test/shape). */
  forbid: readonly string[];
  /**
   * Kernel lines this row covers, for rows whose symbols are the same as
   * another's (6.19 and 7.0 differ in a struct name only); null when the
   * symbols decide alone.
   */
  lines: readonly Line[] | null;
  /** The IOV import path, or null when the kernel has none. */
  iov: IovPath | null;
  /** What xe does with a VF BAR import instead, when there is no IOV path. */
  noIov: string | null;
  /** The scatter-gather (P2P) map, seen from vfio and from the core. */
  sgProbes: readonly ProbePoint[];
  /**
   * The errno a non-P2P importer (vgem: a static attach) gets for a vfio
   * dma-buf: vfio_pci_dma_buf_attach's EOPNOTSUPP, or, with mapping types,
   * dma_buf_match_mapping's EINVAL (no type both sides take).
   */
  nonP2pImport: 'EOPNOTSUPP' | 'EINVAL';
}

/**
 * The P2P mapping decision: dma_buf_phys_vec_to_sgt (drivers/dma-buf/dma-buf-mapping.c) switches on
 * pci_p2pdma_map_type(provider, attach->dev) (drivers/pci/p2pdma.c, exported): bus addresses through a
 * switch, an IOVA through the host bridge, or -EINVAL when not supported.
 */
export const P2P_ROUTE_PROBE: ProbePoint = {
  key: 'p2pRoute',
  symbol: 'pci_p2pdma_map_type',
  kind: 'return',
  fetch: 'ret=$retval:u32',
};

/** enum pci_p2pdma_map_type (include/linux/pci-p2pdma.h) -> the route iovh reports. */
export const P2P_ROUTES: Readonly<Record<number, 'no P2P' | 'not supported' | 'bus address' | 'host bridge'>> = {
  1: 'no P2P', // PCI_P2PDMA_MAP_NONE
  2: 'not supported', // PCI_P2PDMA_MAP_NOT_SUPPORTED
  3: 'bus address', // PCI_P2PDMA_MAP_BUS_ADDR
  4: 'host bridge', // PCI_P2PDMA_MAP_THRU_HOST_BRIDGE
};

/** The ordinary map since vfio dma-buf export (drivers/vfio/pci/vfio_pci_dmabuf.c, drivers/dma-buf/dma-buf.c). */
const SG_PROBES: readonly ProbePoint[] = [
  { key: 'exporterSgMap', symbol: 'vfio_pci_dma_buf_map', kind: 'entry', fetch: '' },
  { key: 'sgMap', symbol: 'dma_buf_map_attachment', kind: 'entry', fetch: '' },
];

/** The mapping-type branch renames the core's map to its SGT type (drivers/dma-buf/dma-buf.c of the branch). */
const MAPTYPE_SG_PROBES: readonly ProbePoint[] = [
  { key: 'exporterSgMap', symbol: 'vfio_pci_dma_buf_map', kind: 'entry', fetch: '' },
  { key: 'sgMap', symbol: 'dma_buf_sgt_map_attachment', kind: 'entry', fetch: '' },
];

/**
 * The interconnect RFC's names. RFC v2 kept every function name of v1 and
 * moved the IOV type from an enum to an exported pointer, `iov_interconnect`
 * (a data symbol): that is what tells the two apart. The LMEM-object lookup
 * is upstream's getter in a forward-port to 7.x (xe_gt_sriov_pf_config.c),
 * called with vfid = VF index + 1 in both revisions.
 */
const INTERCONNECT_PROBES: readonly ProbePoint[] = [
  { key: 'match', symbol: 'dma_buf_match_interconnects', kind: 'return', fetch: 'ret=$retval:u8', bool: true },
  { key: 'exporterMatch', symbol: 'vfio_pci_match_interconnect', kind: 'return', fetch: 'ret=$retval:u8', bool: true },
  { key: 'importerOffers', symbol: 'xe_dma_buf_supports_interconnects', kind: 'entry', fetch: '' },
  { key: 'mapInterconnect', symbol: 'dma_buf_map_interconnect', kind: 'return', fetch: 'ret=$retval' },
  { key: 'exporterMapInterconnect', symbol: 'vfio_pci_map_interconnect', kind: 'return', fetch: 'ret=$retval' },
  { key: 'translate', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'entry', fetch: 'vfid=$arg2:u32' },
  { key: 'translateRet', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'return', fetch: 'ret=$retval' },
  { key: 'unmapInterconnect', symbol: 'dma_buf_unmap_interconnect', kind: 'entry', fetch: '', anyTask: true },
];

/**
 * The IOV mapping type on top of Jason Gunthorpe's mapping types. Vivek
 * Kasireddy reported one working (2025-11-18, his drm-tip branch
 * dmabuf_iov_v1), but it was never posted: its names are not public. A lab
 * that runs that branch fills in this row (the type's match op, map op and
 * the symbol that proves the type exists); until then the mapping-type
 * kernel is detected, and has no IOV path iovh can see.
 */
export const MAPTYPE_IOV_TYPE: {
  marker: string | null;
  match: string | null;
  map: string | null;
} = {
  marker: null,
  match: null,
  map: null,
};

function maptypeIov(): IovPath | null {
  const t = MAPTYPE_IOV_TYPE;
  if (t.marker === null) return null;
  const probes: ProbePoint[] = [];
  if (t.match)
    probes.push({ key: 'exporterMatch', symbol: t.match, kind: 'return', fetch: 'ret=$retval:u8', bool: true });
  if (t.map) probes.push({ key: 'exporterMapInterconnect', symbol: t.map, kind: 'return', fetch: 'ret=$retval' });
  probes.push(
    { key: 'translate', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'entry', fetch: 'vfid=$arg2:u32' },
    { key: 'translateRet', symbol: 'xe_gt_sriov_pf_config_get_lmem_obj', kind: 'return', fetch: 'ret=$retval' },
  );
  return { name: 'maptype-iov', markers: [t.marker], probes };
}

const RFC = ['dma_buf_map_interconnect', 'dma_buf_match_interconnects'];
const MAPTYPE = ['dma_buf_mapping_attach', 'dma_buf_match_mapping'];
const REVOKE_71 = ['dma_buf_invalidate_mappings', 'dma_buf_attach_revocable'];
const UPSTREAM_P2P = 'xe imports a VF BAR as P2P';

export function shapeRows(): readonly ShapeRow[] {
  return [
    {
      name: 'upstream-6.19',
      kernel: 'Linux 6.19',
      source:
        'drivers/vfio/pci/vfio_pci_dmabuf.c and drivers/dma-buf/dma-buf.c of 6.19 (dma_buf_move_notify, struct dma_buf_phys_vec)',
      require: ['dma_buf_move_notify'],
      forbid: [...REVOKE_71, ...RFC, ...MAPTYPE],
      lines: [[6, 19]],
      iov: null,
      noIov: UPSTREAM_P2P,
      sgProbes: SG_PROBES,
      nonP2pImport: 'EOPNOTSUPP',
    },
    {
      name: 'upstream-7.0',
      kernel: 'Linux 7.0',
      source:
        'the 7.0 VFIO pull "Replace dma_buf_phys_vec with phys_vec": a struct rename, no symbol changes, so the release tells it from 6.19',
      require: ['dma_buf_move_notify'],
      forbid: [...REVOKE_71, ...RFC, ...MAPTYPE],
      lines: [[7, 0]],
      iov: null,
      noIov: UPSTREAM_P2P,
      sgProbes: SG_PROBES,
      nonP2pImport: 'EOPNOTSUPP',
    },
    {
      name: 'upstream-7.1',
      kernel: 'Linux 7.1, 7.2, 7.3-rc',
      source:
        'the revoke series merged for 7.1 (drivers/dma-buf/dma-buf.c: dma_buf_invalidate_mappings, dma_buf_attach_revocable)',
      require: REVOKE_71,
      forbid: [...RFC, ...MAPTYPE],
      lines: null,
      iov: null,
      noIov: UPSTREAM_P2P,
      sgProbes: SG_PROBES,
      nonP2pImport: 'EOPNOTSUPP',
    },
    {
      name: 'rfc-v1',
      kernel: 'the interconnect RFC v1 (2025-10-14) on its base or forward-ported',
      source:
        '"[RFC 0/8] dma-buf: Add support for mapping dmabufs via interconnects", Message-ID 20251014071243.811884-1-vivek.kasireddy@intel.com',
      require: RFC,
      forbid: ['iov_interconnect', ...MAPTYPE],
      lines: null,
      iov: { name: 'rfc-v1 interconnect', markers: RFC, probes: INTERCONNECT_PROBES },
      noIov: null,
      sgProbes: SG_PROBES,
      nonP2pImport: 'EOPNOTSUPP',
    },
    {
      name: 'rfc-v2',
      kernel: 'the interconnect RFC v2 (2025-10-27), forward-ported',
      source:
        '"[RFC v2 0/8] dma-buf: Add support for mapping dmabufs via interconnects", Message-ID 20251027044712.1676175-1-vivek.kasireddy@intel.com (3/8 exports iov_interconnect)',
      require: [...RFC, 'iov_interconnect'],
      forbid: MAPTYPE,
      lines: null,
      iov: { name: 'rfc-v2 interconnect', markers: [...RFC, 'iov_interconnect'], probes: INTERCONNECT_PROBES },
      noIov: null,
      sgProbes: SG_PROBES,
      nonP2pImport: 'EOPNOTSUPP',
    },
    {
      name: 'maptype-rfc',
      kernel: "Jason Gunthorpe's DMA-buf mapping types (RFC 2026-02-17), with an IOV type on top",
      source:
        '"[PATCH RFC 00/26] Add DMA-buf mapping types and convert vfio/iommufd to use them", Message-ID 0-v1-b5cab63049c0+191af-dmabuf_map_type_jgg@nvidia.com',
      require: [...MAPTYPE, 'dma_buf_sgt_dynamic_attach'],
      forbid: RFC,
      lines: null,
      iov: maptypeIov(),
      noIov:
        'xe imports through SGT_P2P (the IOV mapping type is not in this kernel, or its names are not yet in the symbol table: MAPTYPE_IOV_TYPE)',
      sgProbes: MAPTYPE_SG_PROBES,
      nonP2pImport: 'EINVAL',
    },
  ];
}

/**
 * Markers that are data, not functions: RFC v2's exported pointer
 * `const struct dma_buf_interconnect *iov_interconnect` (3/8) sits in .data.
 * Every other name is looked up as a function (kallsyms t/T/w/W), so that a
 * data object or a `__pfx_` twin of the same name never counts.
 */
export const DATA_SYMBOLS: ReadonlySet<string> = new Set(['iov_interconnect']);

/** kallsyms type letters of data: initialised (d), read-only (r), bss (b), each local or global. */
export const DATA_TYPES = 'dDrRbB';

/** Every symbol a row names: what detect.ts looks up in /proc/kallsyms. */
export function tableSymbols(rows: readonly ShapeRow[] = shapeRows()): string[] {
  const names = new Set<string>();
  for (const r of rows) {
    for (const s of [...r.require, ...r.forbid]) names.add(s);
    for (const p of [...(r.iov?.probes ?? []), ...r.sgProbes]) names.add(p.symbol);
    for (const m of r.iov?.markers ?? []) names.add(m);
  }
  // Seen for the evidence: the 6.19+ P2P helper, which every row's kernel has, and the
  // iommufd importer's revoke notification (docs/iommufd.md; CONFIG_IOMMUFD kernels only).
  names.add('dma_buf_phys_vec_to_sgt');
  names.add('iopt_revoke_notify');
  // The P2P mapping decision (P2P_ROUTE_PROBE): the route an import's P2P map took.
  names.add(P2P_ROUTE_PROBE.symbol);
  return [...names];
}
