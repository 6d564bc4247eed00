// xe as SR-IOV PF: VF provisioning and the VFs' LMEM objects (docs/kernel.md §9;
// drivers/gpu/drm/xe/xe_gt_sriov_pf_config.c, xe_sriov_pf_sysfs.c,
// xe_*_sriov_pf_debugfs.c, Documentation/ABI/testing/sysfs-driver-intel-xe-sriov).
//
// - Each VF's VRAM quota is a pinned, not forced contiguous, PF buffer object
//   (LmemObject) in 2 MiB-aligned blocks from the buddy allocator; VF BAR2
//   offset X reaches object offset X through the LMTT (objects of several tiles
//   concatenated in tile order).
// - Auto-provisioning when VFs are enabled: every VF gets
//   ALIGN_DOWN((free - spare) / num_vfs, 2 MiB) (pf_estimate_fair_lmem, after
//   "support non-contig VRAM provisioning" dropped the power-of-two rounding),
//   unless a non-zero quota was set before enabling (custom mode). All
//   provisioning is released when VFs are disabled.
// - Quota writes: kstrtou64 (EINVAL), rounded up to 2 MiB
//   (pf_get_lmem_alignment), EBUSY while the VF's LMEM object is referenced
//   (an importer holds it), ENOSPC when it does not fit the free VRAM minus the
//   spare (pf_query_max_lmem).
// - A VF FLR clears its LMEM (xe_gt_sriov_pf_control.c FLR sequence ->
//   xe_gt_sriov_pf_config_sanitize -> pf_sanitize_lmem -> xe_migrate_clear).

import { LogLevel, type LmemObject, type VramBlock, type XePfState } from './contracts.js';
import { fail } from './errno.js';
import { kstrtobool, kstrtoull, kstrtouint, sysfsStreq } from './kstrto.js';
import type { KernelCore } from './kernel.js';
import type { ChunkedMemory } from './memory.js';
import type { PciDev } from './pci.js';
import type { XeSpec } from './topology.js';
import { BuddyAllocator } from './vram.js';
import { relativeLink, type Vfs } from './vfs.js';

const MiB = 1n << 20n;
const LMEM_ALIGN = 2n * MiB;
const MIN_SPARE = 128n * MiB; // pf_get_min_spare_lmem
const GGTT_TOTAL = 0xf0000000n; // GGTT above WOPCM, below GuC top, 4 GiB space
const GGTT_ALIGN = 64n * 1024n;
const CONTEXTS_TOTAL = 65535;
const DOORBELLS_TOTAL = 256;
const SCHED_PRIORITIES = ['low', 'normal', 'high'] as const;
type SchedPriority = (typeof SCHED_PRIORITIES)[number];

function human(bytes: bigint): string {
  const gib = Number(bytes) / 2 ** 30;
  if (gib >= 1) return `${gib.toFixed(2)} GiB`;
  return `${(Number(bytes) / 2 ** 20).toFixed(2)} MiB`;
}

export class LmemObjectImpl implements LmemObject {
  refs = 0;
  /** The VF's config still owns it (false once unprovisioned or replaced). */
  provisioned = true;
  readonly size: bigint;
  private readonly starts: Float64Array;

  constructor(
    readonly vfid: number,
    readonly tile: number,
    readonly blocks: readonly VramBlock[],
    private readonly onFree: (o: LmemObjectImpl) => void,
    private readonly onUnderflow: () => void,
  ) {
    this.starts = new Float64Array(blocks.length);
    let acc = 0;
    blocks.forEach((b, i) => {
      this.starts[i] = acc;
      acc += Number(b.size);
    });
    this.size = BigInt(acc);
  }

  /** Index of the block holding object offset `offset` (binary search). */
  blockAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  blockStart(i: number): number {
    return this.starts[i]!;
  }

  dpaAt(offset: bigint): bigint {
    if (offset < 0n || offset >= this.size)
      throw new RangeError(`offset 0x${offset.toString(16)} outside LMEM object of 0x${this.size.toString(16)}`);
    const o = Number(offset);
    const i = this.blockAt(o);
    return this.blocks[i]!.dpa + BigInt(o - this.starts[i]!);
  }

  get(): void {
    this.refs++;
  }

  private readonly replaced = new Set<() => void>();

  onReplaced(cb: () => void): () => void {
    this.replaced.add(cb);
    return () => this.replaced.delete(cb);
  }

  /** The PF gave the VF a new object: tell whoever asked (a fixed series' importers). */
  notifyReplaced(): void {
    for (const cb of [...this.replaced]) cb();
  }

  put(): void {
    if (this.refs === 0) {
      this.onUnderflow();
      return;
    }
    this.refs--;
    if (this.refs === 0 && !this.provisioned) this.onFree(this);
  }
}

interface VfConfig {
  lmem: (LmemObjectImpl | null)[];
  ggtt: bigint[];
  contexts: number[];
  doorbells: number[];
  execQuantumMs: number;
  preemptTimeoutUs: number;
  schedPriority: SchedPriority;
}

export interface XePfSaved {
  mode: 'auto' | 'custom';
  spare: string[];
  pfBlocks: { dpa: string; size: string }[][];
  vfs: {
    lmem: ({ dpa: string; size: string }[] | null)[];
    ggtt: string[];
    contexts: number[];
    doorbells: number[];
    execQuantumMs: number;
    preemptTimeoutUs: number;
    schedPriority: SchedPriority;
  }[];
  pf: { execQuantumMs: number; preemptTimeoutUs: number; schedPriority: SchedPriority };
}

export class XePf implements XePfState {
  readonly pfMode: boolean;
  private readonly alloc: BuddyAllocator[] = [];
  private readonly tileBase: bigint[] = [];
  private readonly pfBlocks: VramBlock[][] = [];
  private readonly spare: bigint[] = [];
  private readonly configs: VfConfig[] = [];
  private readonly pfProfile = { execQuantumMs: 0, preemptTimeoutUs: 0, schedPriority: 'low' as SchedPriority };
  private mode: 'auto' | 'custom' = 'auto';
  /** LMEM objects unprovisioned while referenced: freed at their last put(). */
  private readonly zombies = new Set<LmemObjectImpl>();
  private readonly debugRoot: string;
  private readonly totalvfs: number;

  constructor(
    readonly pf: PciDev,
    readonly spec: XeSpec,
    readonly vram: ChunkedMemory,
    private readonly vfs: Vfs,
    private readonly kernel: KernelCore,
    /** pci_enable_sriov / pci_disable_sriov of the platform. */
    private readonly sriov: { enable(pf: PciDev, n: number): void; disable(pf: PciDev, then: () => void): void },
  ) {
    this.pfMode = spec.pfMode && pf.sriov !== null;
    this.totalvfs = pf.sriov?.spec.totalvfs ?? 0;
    const perTile = spec.vram / BigInt(spec.tiles);
    for (let t = 0; t < spec.tiles; t++) {
      this.tileBase.push(perTile * BigInt(t));
      this.alloc.push(new BuddyAllocator(Number(perTile * BigInt(t)), Number(perTile)));
      this.spare.push(spec.vramSpare > MIN_SPARE ? spec.vramSpare : MIN_SPARE);
      // What the PF driver takes at probe (GuC, page tables, ...), from the root tile.
      const reserve = t === 0 ? spec.pfReserved : 0n;
      const got = reserve > 0n ? this.alloc[t]!.alloc(Number(reserve), 4096) : [];
      this.pfBlocks.push(got ?? []);
    }
    for (let i = 0; i < this.totalvfs; i++) this.configs.push(this.freshConfig());
    this.debugRoot = `/sys/kernel/debug/dri/${pf.bdf}`;
    if (this.pfMode) {
      this.kernel.log(LogLevel.INFO, this.src, `[drm] Running in SR-IOV PF mode`);
      if (spec.provisioning === 'sriov_admin') this.createSriovAdmin();
      if (spec.provisioning === 'legacy') this.createLegacyDebugfs();
      else this.createDebugfs();
    }
  }

  private freshConfig(): VfConfig {
    const t = this.spec.tiles;
    return {
      lmem: Array<LmemObjectImpl | null>(t).fill(null),
      ggtt: Array<bigint>(t).fill(0n),
      contexts: Array<number>(t * 2).fill(0),
      doorbells: Array<number>(t * 2).fill(0),
      execQuantumMs: 0,
      preemptTimeoutUs: 0,
      schedPriority: 'low',
    };
  }

  private get src(): string {
    return `xe ${this.pf.bdf}`;
  }

  // ------------------------------------------------------------ XePfState

  lmemObj(vfid: number): LmemObjectImpl | null {
    return this.configs[vfid - 1]?.lmem[0] ?? null;
  }

  lmemObjs(vfid: number): LmemObjectImpl[] {
    return (this.configs[vfid - 1]?.lmem ?? []).filter((o): o is LmemObjectImpl => o !== null);
  }

  /**
   * VRAM the buddy allocators do not have free, over every tile: the PF's own
   * reservation, its BOs and the VFs' LMEM objects, as the memory-regions
   * query's `used` reports it (xe_query.c query_mem_regions: ttm resource
   * manager usage, which counts every allocation the kernel made).
   */
  vramUsed(): bigint {
    let avail = 0n;
    for (const a of this.alloc) avail += BigInt(a.availBytes());
    return this.vram.size - avail;
  }

  allocVram(size: bigint): VramBlock[] | null {
    return this.alloc[0]!.alloc(Number(size), 4096);
  }

  freeVram(blocks: readonly VramBlock[]): void {
    for (const [t, a] of this.alloc.entries()) {
      const mine = blocks.filter((b) => this.tileOf(b.dpa) === t);
      if (mine.length > 0) a.freeBlocks(mine);
    }
  }

  private tileOf(dpa: bigint): number {
    let t = 0;
    for (let i = 0; i < this.tileBase.length; i++) if (dpa >= this.tileBase[i]!) t = i;
    return t;
  }

  // ------------------------------------------------------------ LMTT (VF BAR2 -> VRAM)

  /** VF LMEM offset to DPA through the LMTT: objects of every tile, in tile order. Null when unmapped. */
  lmttTranslate(vfIndex: number, offset: bigint): { dpa: bigint; run: bigint } | null {
    const cfg = this.configs[vfIndex];
    if (!cfg) return null;
    let base = 0n;
    for (const o of cfg.lmem) {
      if (!o) continue;
      if (offset < base + o.size) {
        const rel = Number(offset - base);
        const i = o.blockAt(rel);
        const within = rel - o.blockStart(i);
        const b = o.blocks[i]!;
        return { dpa: b.dpa + BigInt(within), run: b.size - BigInt(within) };
      }
      base += o.size;
    }
    return null;
  }

  /** VF LMEM size the LMTT maps (sum over tiles). */
  vfLmemSize(vfIndex: number): bigint {
    return (this.configs[vfIndex]?.lmem ?? []).reduce((a, o) => a + (o?.size ?? 0n), 0n);
  }

  /** A VF FLR: xe sanitizes (clears) the VF's LMEM. */
  sanitize(vfid: number): void {
    for (const o of this.configs[vfid - 1]?.lmem ?? []) {
      if (!o) continue;
      for (const b of o.blocks) this.vram.clear(b.dpa, b.size);
    }
  }

  // ------------------------------------------------------------ provisioning

  private provisioned(tile: number): bigint {
    let sum = 0n;
    for (const c of this.configs) sum += c.lmem[tile]?.size ?? 0n;
    return sum;
  }

  private maxLmem(tile: number): bigint {
    const free = BigInt(this.alloc[tile]!.availBytes());
    const spare = this.spare[tile]!;
    const avail = free > spare ? free - spare : 0n;
    return avail - (avail % LMEM_ALIGN);
  }

  private freeObject(o: LmemObjectImpl): void {
    for (const b of o.blocks) this.vram.clear(b.dpa, b.size);
    this.alloc[o.tile]!.freeBlocks(o.blocks);
    this.zombies.delete(o);
  }

  private releaseObject(o: LmemObjectImpl): void {
    o.provisioned = false;
    if (o.refs === 0) this.freeObject(o);
    else this.zombies.add(o);
  }

  private newObject(vfid: number, tile: number, size: bigint): LmemObjectImpl | null {
    const maxBlock = this.spec.vramBlockSize === null ? Infinity : Number(this.spec.vramBlockSize);
    const blocks = this.alloc[tile]!.alloc(Number(size), Number(LMEM_ALIGN), maxBlock);
    if (!blocks) return null;
    // New VRAM for a VF is cleared before it is handed out.
    for (const b of blocks) this.vram.clear(b.dpa, b.size);
    return new LmemObjectImpl(
      vfid,
      tile,
      blocks,
      (o) => this.freeObject(o),
      () => this.kernel.warn('refcount_warn_saturate+0xba/0x110', 'refcount_t: underflow; use-after-free.'),
    );
  }

  /** pf_provision_vf_lmem for one tile. */
  setQuota(vfid: number, tile: number, bytes: bigint): void {
    const cfg = this.configs[vfid - 1];
    if (!cfg || tile >= this.spec.tiles) fail('EINVAL');
    const size = ((bytes + LMEM_ALIGN - 1n) / LMEM_ALIGN) * LMEM_ALIGN;
    const old = cfg.lmem[tile];
    // pf_provision_vf_lmem (xe_gt_sriov_pf_config.c) checks nothing about users of the old object: it
    // unmaps it from the LMTT, unpins and puts it (pf_release_vf_config_lmem) and allocates a new one.
    // A reference an importer took keeps the old VRAM allocated, no longer the VF's.
    if (old?.size === size) return;
    const room = this.maxLmem(tile) + (old?.size ?? 0n);
    if (size > room) fail('ENOSPC', `VF${vfid}: ${size} bytes do not fit (${room} available)`);
    if (old) {
      cfg.lmem[tile] = null;
      this.releaseObject(old);
      // What the interconnect series meant (the `fixed` profile): the importers of the replaced
      // object are invalidated and map the VF's new one. As posted they are not told at all.
      if (old.refs > 0 && !this.kernel.profile.has('stale-lmem-import')) old.notifyReplaced();
    }
    if (size > 0n) {
      const o = this.newObject(vfid, tile, size);
      if (!o) fail('ENOSPC');
      cfg.lmem[tile] = o;
      this.mode = 'custom';
    }
    this.kernel.log(
      LogLevel.INFO,
      this.src,
      `[drm] GT${tile * 2}: PF: VF${vfid} provisioned with ${size} (${human(size)}) LMEM`,
    );
  }

  private quotaTotal(vfid: number): bigint {
    return this.configs[vfid - 1]!.lmem.reduce((a, o) => a + (o?.size ?? 0n), 0n);
  }

  /** The device-level quota (sysfs vram_quota): split evenly over tiles. */
  private setQuotaAllTiles(vfid: number, bytes: bigint): void {
    const per = bytes / BigInt(this.spec.tiles);
    for (let t = 0; t < this.spec.tiles; t++) this.setQuota(vfid, t, per);
  }

  /**
   * xe_pci_sriov_configure(pdev, n > 0): provision (auto unless custom), then
   * pci_enable_sriov. Kernels with only the legacy gtN/vfN debugfs files have
   * no custom mode: pf_enable_vfs provisions every VF fairly whatever was set
   * before (xe_pci_sriov.c pf_provision_vfs -> xe_gt_sriov_pf_config_set_fair
   * -> bulk_set_lmem, which replaces an existing lmem_obj).
   */
  enableVfs(n: number): number {
    if (!this.pfMode) fail('ENODEV');
    const legacy = this.spec.provisioning === 'legacy';
    const custom = !legacy && (this.mode === 'custom' || this.configs.some((c) => c.lmem.some((o) => o !== null)));
    if (!custom) {
      for (let t = 0; t < this.spec.tiles; t++) {
        const fair = this.maxLmem(t) / BigInt(n);
        const aligned = fair - (fair % LMEM_ALIGN);
        if (aligned === 0n) {
          this.kernel.log(LogLevel.ERR, this.src, `[drm] PF: Failed to enable ${n} VF${n > 1 ? 's' : ''} (-ENOSPC)`);
          this.unprovisionAll();
          fail('ENOSPC');
        }
        for (let vfid = 1; vfid <= n; vfid++) {
          const old = this.configs[vfid - 1]!.lmem[t];
          if (old) {
            this.configs[vfid - 1]!.lmem[t] = null;
            this.releaseObject(old);
          }
          const o = this.newObject(vfid, t, aligned);
          if (!o) {
            this.unprovisionAll();
            fail('ENOSPC');
          }
          this.configs[vfid - 1]!.lmem[t] = o;
        }
        this.kernel.log(
          LogLevel.INFO,
          this.src,
          `[drm] GT${t * 2}: PF: VF1..VF${n} provisioned with ${aligned} (${human(aligned)}) LMEM`,
        );
      }
    }
    // GGTT, contexts and doorbells are always fair-shared at enable (not modelled further).
    for (let vfid = 1; vfid <= n; vfid++) {
      const c = this.configs[vfid - 1]!;
      for (let t = 0; t < this.spec.tiles; t++) {
        if (c.ggtt[t] === 0n) c.ggtt[t] = (GGTT_TOTAL / BigInt(n) / GGTT_ALIGN) * GGTT_ALIGN;
        for (let g = 0; g < 2; g++) {
          if (c.contexts[t * 2 + g] === 0) c.contexts[t * 2 + g] = Math.floor((CONTEXTS_TOTAL - 1024) / n);
          if (c.doorbells[t * 2 + g] === 0) c.doorbells[t * 2 + g] = Math.floor((DOORBELLS_TOTAL - 32) / n);
        }
      }
    }
    this.sriov.enable(this.pf, n);
    this.kernel.log(LogLevel.INFO, this.src, `[drm] PF: Enabled ${n} of ${this.totalvfs} VF${n > 1 ? 's' : ''}`);
    return n;
  }

  /**
   * xe_pci_sriov_configure(pdev, 0): the sriov_admin/vfN/device links go
   * (pf_disable_vfs -> xe_sriov_pf_sysfs_unlink_vfs, before pci_disable_sriov),
   * then pci_disable_sriov, then every VF's provisioning is released.
   */
  disableVfs(then: () => void = () => undefined): void {
    const n = this.pf.sriov?.numvfs ?? 0;
    for (let vfid = 1; vfid <= n; vfid++) this.vfs.remove(`${this.pf.sysPath}/sriov_admin/vf${vfid}/device`);
    this.sriov.disable(this.pf, () => {
      this.unprovisionAll();
      this.kernel.log(LogLevel.INFO, this.src, `[drm] PF: Disabled ${n} VF${n === 1 ? '' : 's'}`);
      then();
    });
  }

  private unprovisionAll(): void {
    for (let i = 0; i < this.configs.length; i++) {
      const c = this.configs[i]!;
      for (const o of c.lmem) if (o) this.releaseObject(o);
      this.configs[i] = this.freshConfig();
    }
    this.mode = 'auto';
  }

  /** Driver unbind: VFs off (xe_pci_remove disables SR-IOV), files gone, PF VRAM freed. */
  destroy(then: () => void): void {
    const finish = () => {
      this.vfs.remove(`${this.pf.sysPath}/sriov_admin`);
      this.vfs.remove(this.debugRoot);
      for (const [t, b] of this.pfBlocks.entries()) this.alloc[t]!.freeBlocks(b);
      then();
    };
    if ((this.pf.sriov?.numvfs ?? 0) > 0) this.disableVfs(finish);
    else finish();
  }

  liveLmemObjects(): number {
    let n = this.zombies.size;
    for (const c of this.configs) for (const o of c.lmem) if (o) n++;
    return n;
  }

  // ------------------------------------------------------------ sysfs sriov_admin

  private createSriovAdmin(): void {
    const base = `${this.pf.sysPath}/sriov_admin`;
    const v = this.vfs;
    // xe_sriov_pf_sysfs.c: the GuC lets only the PF's priority change, and only the PF be 'high'
    // (sched_priority_change_allowed, sched_priority_high_allowed): a VF's file is 0444 (a write is
    // EACCES at open, kernfs_fop_open) and lists two choices; show marks the current one (emit_choice).
    const choices = (pf: boolean): readonly SchedPriority[] => (pf ? SCHED_PRIORITIES : SCHED_PRIORITIES.slice(0, 2));
    const emitChoice = (current: SchedPriority, pf: boolean) =>
      `${choices(pf)
        .map((x) => (x === current ? `[${x}]` : x))
        .join(' ')}\n`;
    const prioPf = (get: () => SchedPriority, set: (p: SchedPriority) => void) => ({
      show: () => emitChoice(get(), true),
      store: (d: string) => {
        const p = choices(true).find((x) => sysfsStreq(x, d));
        if (!p) fail('EINVAL');
        set(p);
      },
    });
    const prioVf = (get: () => SchedPriority) => ({ mode: 0o444, show: () => emitChoice(get(), false) });
    const bulk = `${base}/.bulk_profile`;
    const allVfs = () => this.configs;
    v.addFile(`${bulk}/exec_quantum_ms`, { store: (d) => allVfs().forEach((c) => (c.execQuantumMs = kstrtouint(d))) });
    v.addFile(`${bulk}/preempt_timeout_us`, {
      store: (d) => allVfs().forEach((c) => (c.preemptTimeoutUs = kstrtouint(d))),
    });
    v.addFile(`${bulk}/sched_priority`, {
      store: (d) => {
        // __sysfs_match_string over the VFs' choices: 'high' is the PF's only.
        const p = choices(false).find((x) => sysfsStreq(x, d));
        if (!p) fail('EINVAL');
        for (const c of allVfs()) c.schedPriority = p;
      },
    });
    v.addFile(`${bulk}/vram_quota`, {
      store: (d) => {
        const bytes = kstrtoull(d);
        for (let vfid = 1; vfid <= this.totalvfs; vfid++) this.setQuotaAllTiles(vfid, bytes);
      },
    });
    const pp = this.pfProfile;
    v.addFile(`${base}/pf/profile/exec_quantum_ms`, {
      show: () => `${pp.execQuantumMs}\n`,
      store: (d) => (pp.execQuantumMs = kstrtouint(d)),
    });
    v.addFile(`${base}/pf/profile/preempt_timeout_us`, {
      show: () => `${pp.preemptTimeoutUs}\n`,
      store: (d) => (pp.preemptTimeoutUs = kstrtouint(d)),
    });
    v.addFile(
      `${base}/pf/profile/sched_priority`,
      prioPf(
        () => pp.schedPriority,
        (p) => (pp.schedPriority = p),
      ),
    );
    v.addLink(`${base}/pf/device`, relativeLink(`${base}/pf`, this.pf.sysPath));
    for (let vfid = 1; vfid <= this.totalvfs; vfid++) {
      const c = () => this.configs[vfid - 1]!;
      const d = `${base}/vf${vfid}`;
      v.addFile(`${d}/profile/exec_quantum_ms`, {
        show: () => `${c().execQuantumMs}\n`,
        store: (x) => (c().execQuantumMs = kstrtouint(x)),
      });
      v.addFile(`${d}/profile/preempt_timeout_us`, {
        show: () => `${c().preemptTimeoutUs}\n`,
        store: (x) => (c().preemptTimeoutUs = kstrtouint(x)),
      });
      v.addFile(
        `${d}/profile/sched_priority`,
        prioVf(() => c().schedPriority),
      );
      v.addFile(`${d}/profile/vram_quota`, {
        show: () => `${this.quotaTotal(vfid)}\n`,
        store: (x) => this.setQuotaAllTiles(vfid, kstrtoull(x)),
      });
      v.addFile(`${d}/stop`, {
        store: (x) => {
          if (!kstrtobool(x)) return;
          if (vfid > (this.pf.sriov?.numvfs ?? 0)) fail('ENODEV', `VF${vfid} is not enabled`);
          this.kernel.log(LogLevel.INFO, this.src, `[drm] PF: VF${vfid} stopped`);
        },
      });
    }
  }

  /** sriov_admin/vfN/device appears with the VF (xe_sriov_pf_sysfs_link_vfs). */
  linkVfs(vfs: readonly PciDev[]): void {
    if (this.spec.provisioning !== 'sriov_admin' || !this.pfMode) return;
    for (const vf of vfs) {
      const d = `${this.pf.sysPath}/sriov_admin/vf${vf.vfIndex! + 1}`;
      this.vfs.addLink(`${d}/device`, relativeLink(d, vf.sysPath), true);
    }
  }

  // ------------------------------------------------------------ debugfs

  private u64Attr(get: () => bigint, set?: (v: bigint) => void) {
    // DEFINE_DEBUGFS_ATTRIBUTE(..., "%llu\n"): reads without a getter / writes without a setter fail EACCES.
    return set
      ? { mode: 0o644, show: () => `${get()}\n`, store: (d: string) => set(kstrtoull(d)) }
      : { mode: 0o444, show: () => `${get()}\n`, store: () => fail('EACCES') };
  }

  private createDebugfs(): void {
    const v = this.vfs;
    const root = this.debugRoot;
    const s = `${root}/sriov`;
    v.addText(`${s}/pf/vfs`, () => `${this.pf.sriov?.numvfs ?? 0}\n`);
    v.addText(`${s}/pf/versions`, () => 'GuC: 70.44.1 interface: 1.19.0\n');
    v.addFile(`${s}/restore_auto_provisioning`, {
      mode: 0o200,
      show: () => fail('EACCES'),
      store: (d) => {
        if (kstrtoull(d) !== 1n) fail('EINVAL');
        if ((this.pf.sriov?.numvfs ?? 0) > 0) fail('EBUSY');
        this.unprovisionAll();
      },
    });
    for (let t = 0; t < this.spec.tiles; t++) {
      const pt = `${s}/pf/tile${t}`;
      v.addFile(
        `${pt}/vram_spare`,
        this.u64Attr(
          () => this.spare[t]!,
          (x) => (this.spare[t] = x > MIN_SPARE ? x : MIN_SPARE),
        ),
      );
      v.addFile(
        `${pt}/vram_provisioned`,
        this.u64Attr(() => this.provisioned(t)),
      );
      v.addFile(
        `${pt}/ggtt_spare`,
        this.u64Attr(
          () => 0x10000000n,
          () => undefined,
        ),
      );
      v.addFile(
        `${pt}/ggtt_available`,
        this.u64Attr(() => GGTT_TOTAL - this.configs.reduce((a, c) => a + c.ggtt[t]!, 0n)),
      );
      v.addFile(
        `${pt}/ggtt_provisioned`,
        this.u64Attr(() => this.configs.reduce((a, c) => a + c.ggtt[t]!, 0n)),
      );
      for (let g = t * 2; g < t * 2 + 2; g++) {
        const pg = `${pt}/gt${g}`;
        v.addFile(
          `${pg}/contexts_spare`,
          this.u64Attr(
            () => 1024n,
            () => undefined,
          ),
        );
        v.addFile(
          `${pg}/doorbells_spare`,
          this.u64Attr(
            () => 32n,
            () => undefined,
          ),
        );
        v.addFile(
          `${pg}/exec_quantum_ms`,
          this.u64Attr(
            () => BigInt(this.pfProfile.execQuantumMs),
            (x) => (this.pfProfile.execQuantumMs = Number(x)),
          ),
        );
        v.addFile(
          `${pg}/preempt_timeout_us`,
          this.u64Attr(
            () => BigInt(this.pfProfile.preemptTimeoutUs),
            (x) => (this.pfProfile.preemptTimeoutUs = Number(x)),
          ),
        );
        // Legacy paths: dri/<BDF>/gtG -> tileT/gtG, and tileT/gtG/pf -> ../../sriov/pf/tileT/gtG.
        v.addLink(`${root}/tile${t}/gt${g}/pf`, `../../sriov/pf/tile${t}/gt${g}`);
        if (!v.peek(`${root}/gt${g}`)) v.addLink(`${root}/gt${g}`, `tile${t}/gt${g}`);
      }
    }
    for (let vfid = 1; vfid <= this.totalvfs; vfid++) {
      const c = () => this.configs[vfid - 1]!;
      for (let t = 0; t < this.spec.tiles; t++) {
        const vt = `${s}/vf${vfid}/tile${t}`;
        v.addFile(
          `${vt}/vram_quota`,
          this.u64Attr(
            () => c().lmem[t]?.size ?? 0n,
            (x) => this.setQuota(vfid, t, x),
          ),
        );
        v.addFile(
          `${vt}/ggtt_quota`,
          this.u64Attr(
            () => c().ggtt[t]!,
            (x) => (c().ggtt[t] = ((x + GGTT_ALIGN - 1n) / GGTT_ALIGN) * GGTT_ALIGN),
          ),
        );
        for (let g = t * 2; g < t * 2 + 2; g++) {
          const vg = `${vt}/gt${g}`;
          v.addFile(
            `${vg}/contexts_quota`,
            this.u64Attr(
              () => BigInt(c().contexts[g]!),
              (x) => (c().contexts[g] = Number(x)),
            ),
          );
          v.addFile(
            `${vg}/doorbells_quota`,
            this.u64Attr(
              () => BigInt(c().doorbells[g]!),
              (x) => (c().doorbells[g] = Number(x)),
            ),
          );
          v.addFile(
            `${vg}/exec_quantum_ms`,
            this.u64Attr(
              () => BigInt(c().execQuantumMs),
              (x) => (c().execQuantumMs = Number(x)),
            ),
          );
          v.addFile(
            `${vg}/preempt_timeout_us`,
            this.u64Attr(
              () => BigInt(c().preemptTimeoutUs),
              (x) => (c().preemptTimeoutUs = Number(x)),
            ),
          );
          v.addFile(`${vg}/control`, {
            mode: 0o200,
            show: () => fail('EACCES'),
            store: (x) => {
              const cmd = x.trim();
              if (!['pause', 'resume', 'stop', 'reset'].includes(cmd)) fail('EINVAL');
              if (vfid > (this.pf.sriov?.numvfs ?? 0)) fail('ENODEV');
              this.kernel.log(LogLevel.INFO, this.src, `[drm] GT${g}: PF: VF${vfid} ${cmd}`);
            },
          });
          // LMTT devices keep the old name: vfN/tileT/gtG/lmem_quota -> ../vram_quota (primary GT only).
          if (g === t * 2) v.addLink(`${vg}/lmem_quota`, '../vram_quota');
          v.addLink(`${root}/tile${t}/gt${g}/vf${vfid}`, `../../sriov/vf${vfid}/tile${t}/gt${g}`);
        }
      }
    }
  }

  /** Kernels before the tile layout: dri/<BDF>/gtG/{pf,vfN}/ hold real files (docs/kernel.md §11.11). */
  private createLegacyDebugfs(): void {
    const v = this.vfs;
    const root = this.debugRoot;
    for (let t = 0; t < this.spec.tiles; t++) {
      const g = t * 2;
      const pg = `${root}/gt${g}/pf`;
      v.addFile(
        `${pg}/lmem_spare`,
        this.u64Attr(
          () => this.spare[t]!,
          (x) => (this.spare[t] = x > MIN_SPARE ? x : MIN_SPARE),
        ),
      );
      v.addFile(
        `${pg}/ggtt_spare`,
        this.u64Attr(
          () => 0x10000000n,
          () => undefined,
        ),
      );
      v.addFile(
        `${pg}/contexts_spare`,
        this.u64Attr(
          () => 1024n,
          () => undefined,
        ),
      );
      v.addFile(
        `${pg}/doorbells_spare`,
        this.u64Attr(
          () => 32n,
          () => undefined,
        ),
      );
      for (let vfid = 1; vfid <= this.totalvfs; vfid++) {
        const c = () => this.configs[vfid - 1]!;
        const vg = `${root}/gt${g}/vf${vfid}`;
        v.addFile(
          `${vg}/lmem_quota`,
          this.u64Attr(
            () => c().lmem[t]?.size ?? 0n,
            (x) => this.setQuota(vfid, t, x),
          ),
        );
        v.addFile(
          `${vg}/ggtt_quota`,
          this.u64Attr(
            () => c().ggtt[t]!,
            (x) => (c().ggtt[t] = x),
          ),
        );
        v.addFile(
          `${vg}/contexts_quota`,
          this.u64Attr(
            () => BigInt(c().contexts[g]!),
            (x) => (c().contexts[g] = Number(x)),
          ),
        );
        v.addFile(
          `${vg}/doorbells_quota`,
          this.u64Attr(
            () => BigInt(c().doorbells[g]!),
            (x) => (c().doorbells[g] = Number(x)),
          ),
        );
        v.addFile(
          `${vg}/exec_quantum_ms`,
          this.u64Attr(
            () => BigInt(c().execQuantumMs),
            (x) => (c().execQuantumMs = Number(x)),
          ),
        );
        v.addFile(
          `${vg}/preempt_timeout_us`,
          this.u64Attr(
            () => BigInt(c().preemptTimeoutUs),
            (x) => (c().preemptTimeoutUs = Number(x)),
          ),
        );
      }
    }
  }

  // ------------------------------------------------------------ state

  save(): XePfSaved {
    const blocks = (bs: readonly VramBlock[]) => bs.map((b) => ({ dpa: b.dpa.toString(), size: b.size.toString() }));
    return {
      mode: this.mode,
      spare: this.spare.map(String),
      pfBlocks: this.pfBlocks.map(blocks),
      vfs: this.configs.map((c) => ({
        lmem: c.lmem.map((o) => (o ? blocks(o.blocks) : null)),
        ggtt: c.ggtt.map(String),
        contexts: [...c.contexts],
        doorbells: [...c.doorbells],
        execQuantumMs: c.execQuantumMs,
        preemptTimeoutUs: c.preemptTimeoutUs,
        schedPriority: c.schedPriority,
      })),
      pf: { ...this.pfProfile },
    };
  }

  /** Restore saved provisioning over a freshly probed PF. False when it does not fit this VRAM. */
  load(s: XePfSaved): boolean {
    const toBlocks = (bs: { dpa: string; size: string }[]) =>
      bs.map((b) => ({ dpa: BigInt(b.dpa), size: BigInt(b.size) }));
    if (s.vfs.length !== this.configs.length || s.pfBlocks.length !== this.spec.tiles) return false;
    for (const [t, b] of this.pfBlocks.entries()) this.alloc[t]!.freeBlocks(b);
    for (const [t, b] of s.pfBlocks.entries()) {
      const bs = toBlocks(b);
      if (!this.alloc[t]!.claim(bs)) return false;
      this.pfBlocks[t] = bs;
    }
    for (const [i, v] of s.vfs.entries()) {
      const c = this.freshConfig();
      for (const [t, l] of v.lmem.entries()) {
        if (!l) continue;
        const bs = toBlocks(l);
        if (!this.alloc[t]!.claim(bs)) return false;
        c.lmem[t] = new LmemObjectImpl(
          i + 1,
          t,
          bs,
          (o) => this.freeObject(o),
          () => this.kernel.warn('refcount_warn_saturate+0xba/0x110', 'refcount_t: underflow; use-after-free.'),
        );
      }
      c.ggtt = v.ggtt.map((x) => BigInt(x));
      c.contexts = [...v.contexts];
      c.doorbells = [...v.doorbells];
      c.execQuantumMs = v.execQuantumMs;
      c.preemptTimeoutUs = v.preemptTimeoutUs;
      c.schedPriority = v.schedPriority;
      this.configs[i] = c;
    }
    this.mode = s.mode;
    s.spare.forEach((x, t) => (this.spare[t] = BigInt(x)));
    Object.assign(this.pfProfile, s.pf);
    return true;
  }
}
