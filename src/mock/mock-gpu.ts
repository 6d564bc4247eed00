// iovh's mock SR-IOV GPU in the mock kernel: the QEMU device iovh-mock-gpu
// (qemu/patches/0005-*.patch, hw/misc/iovh-mock-gpu.c) with its PF driver
// (kernel/iovh-mock-gpu/main.c) and the translation step that driver installs
// in the stand-in importer (kernel/iovh-mock-gpu/xlate.c), so that a topology
// `iovh capture` wrote in a guest with the device replays here.
//
// The device: PF BAR 2 is the whole LMEM (offset X is LMEM byte X); a VF's
// BAR 2 is cut into block-sized slots, slot k reaching the PF block the
// per-VF table names for it, or nothing (reads all ones, writes dropped).
// The driver: VF quotas in whole blocks through xe-shaped files, block
// placement through lmem_blocks, xe's provisioning rules (main.c
// mgpu_provision, mgpu_pick, mgpu_auto_provision, mgpu_release_auto).
// The translation: RFC v1 7/8 against the table, quirks included (xlate.c
// rfc_translate, rfc_find_vf_dev), or the same with each quirk corrected
// (xlate.c fixed_translate, the module's translation=fixed), which a
// profile carrying none of the translation's quirks (`fixed`) gets.

import { LogLevel } from './contracts.js';
import { fail } from './errno.js';
import type { KernelCore } from './kernel.js';
import { kstrtoull, kstrtouint } from './kstrto.js';
import { ChunkedMemory } from './memory.js';
import type { PciDev } from './pci.js';
import type { Vfs } from './vfs.js';

/** The device's geometry (QEMU properties) and, from a capture, the blocks each VF held. */
export interface MockGpuSpec {
  readonly lmem: bigint;
  readonly blockSize: bigint;
  readonly vfLmem: bigint;
  /** Per VF (index = VF number - 1): the PF blocks in slot order, as lmem_blocks showed them. */
  readonly blocks: readonly (readonly number[])[];
}

/** What a state file keeps of the PF driver (mgpu.blocks/nr, custom, auto_provisioned). */
export interface MockGpuSaved {
  blocks: number[][];
  custom: boolean[];
  auto: boolean;
}

/** The PF driver's name (main.c: `.name = "iovh_mock_gpu"`). */
export const MOCK_GPU_DRIVER = 'iovh_mock_gpu';

/** The translation's id in IOVH_IC_VERSION.xlate (xlate.c rfc_v1_ops.id: "mgpu"). */
export const MOCK_GPU_XLATE_ID = 0x6d677075;
/** The corrected translation's (xlate.c fixed_ops.id: "mgpf", the module loaded with translation=fixed). */
export const MOCK_GPU_XLATE_FIXED_ID = 0x6d677066;

/**
 * The quirks of RFC 7/8 that live in the translation (xlate.c): the module's
 * rfc-v1 form has them all, its fixed form none. Quirks 2 and 4 (going on
 * untranslated, the NULL LMEM object) are not among them: neither form
 * reproduces them (both refuse, and the importer falls back).
 */
export const TRANSLATION_QUIRKS = [
  'last-page',
  'vf-other-bus',
  'first-range-vf',
  'order-from-length',
  'contiguity',
  'quota-unchecked',
] as const;

/** The module's form a kernel profile stands for: fixed when it carries none of the translation's quirks. */
export function translationForm(has: (q: (typeof TRANSLATION_QUIRKS)[number]) => boolean): 'rfc-v1' | 'fixed' {
  return TRANSLATION_QUIRKS.some((q) => has(q)) ? 'rfc-v1' : 'fixed';
}

const PAGE = 4096n;

/** get_order(): the smallest order whose pages hold @len bytes. */
function getOrder(len: bigint): bigint {
  let order = 0n;
  while (PAGE << order < len) order++;
  return order;
}

/** One translated range (kernel/iovh-ic-importer/xlate.h struct iovh_ic_seg). */
export interface XlateSeg {
  addr: bigint;
  len: bigint;
}

/**
 * The device (hw/misc/iovh-mock-gpu.c): its LMEM and its per-VF block table
 * outlive a driver's binding, as a device's memory and registers do.
 */
export class MockGpuDevice {
  readonly lmem: ChunkedMemory;
  readonly slots: number;
  readonly numBlocks: number;
  /** Per VF: the PF blocks its BAR 2 slots reach, in slot order (the table the driver writes). */
  readonly table: number[][];

  constructor(
    readonly spec: MockGpuSpec,
    totalVfs: number,
  ) {
    this.lmem = new ChunkedMemory(spec.lmem);
    this.slots = Number(spec.vfLmem / spec.blockSize);
    this.numBlocks = Number(spec.lmem / spec.blockSize);
    this.table = Array.from({ length: totalVfs }, () => []);
  }

  /** The PF LMEM offset behind VF @vfIndex's BAR 2 offset, and how far it runs in that block; null when unbacked. */
  slotAt(vfIndex: number, offset: bigint): { lmem: bigint; run: bigint } | null {
    const bs = this.spec.blockSize;
    const b = this.table[vfIndex]?.[Number(offset / bs)];
    if (b === undefined) return null;
    return { lmem: BigInt(b) * bs + (offset % bs), run: bs - (offset % bs) };
  }
}

const U64 = (1n << 64n) - 1n;

/**
 * xlate.c rfc_find_vf_dev() (RFC v1's xe_find_vf_dev()): the first device on
 * the PF's bus (@onBus: pf->bus->devices, boot-time devices before VFs, which
 * are added as they are enabled) that is not a PF and whose BAR 2, its last
 * page excluded (quirk 1), holds @phys; a VF on another bus is never found
 * (quirk 5). The bound is resource_size_t arithmetic: a device without a BAR 2
 * (start 0, length 0) has start + size - PAGE_SIZE wrap to nearly 2^64, so it
 * matches any address.
 */
function rfcFindVfDev(onBus: readonly PciDev[], phys: bigint): PciDev | null {
  const order = [...onBus.filter((d) => !d.isVirtfn), ...onBus.filter((d) => d.isVirtfn)];
  for (const d of order) {
    if (d.sriov) continue; // is_physfn: an SR-IOV capable device
    const bar = d.bar(2);
    const start = bar?.start ?? 0n;
    const size = bar?.size ?? 0n;
    if (phys >= start && phys < ((start + size - PAGE) & U64)) return d;
  }
  return null;
}

export class MockGpuPf {
  private readonly totalVfs: number;
  /** Per VF: its blocks in slot order (mgpu.blocks/nr): the device's table, which the driver writes. */
  private readonly blocks: number[][];
  private readonly custom: boolean[];
  private autoProvisioned = false;

  /** main.c mgpu_probe(): the files, and an empty table whatever the device held. */
  constructor(
    readonly pf: PciDev,
    readonly hw: MockGpuDevice,
    private readonly vfs: Vfs,
    private readonly kernel: KernelCore,
    private readonly sriov: { enable(pf: PciDev, n: number): void; disable(pf: PciDev, then: () => void): void },
  ) {
    this.totalVfs = hw.table.length;
    this.blocks = hw.table;
    this.clear();
    this.custom = this.blocks.map(() => false);
    this.addFiles();
  }

  private get spec(): MockGpuSpec {
    return this.hw.spec;
  }

  private get slots(): number {
    return this.hw.slots;
  }

  private get numBlocks(): number {
    return this.hw.numBlocks;
  }

  /** The driver's provisioning, for a state file. */
  save(): MockGpuSaved {
    return { blocks: this.blocks.map((b) => [...b]), custom: [...this.custom], auto: this.autoProvisioned };
  }

  /**
   * Provisioning from a state file, or (no `custom`, `auto`) what a capture's
   * lmem_blocks showed, put back as lmem_blocks writes would: a VF given
   * blocks is custom. False when it does not fit this device (a block out of
   * range or held twice, more blocks than a VF's BAR 2 slots, another VF count).
   */
  load(saved: {
    readonly blocks: readonly (readonly number[])[];
    readonly custom?: readonly boolean[];
    readonly auto?: boolean;
  }): boolean {
    const seen = new Set<number>();
    if (saved.blocks.length > this.totalVfs || (saved.custom && saved.custom.length !== saved.blocks.length))
      return false;
    for (const list of saved.blocks) {
      if (list.length > this.slots) return false;
      for (const b of list) {
        if (!Number.isInteger(b) || b < 0 || b >= this.numBlocks || seen.has(b)) return false;
        seen.add(b);
      }
    }
    for (let vf = 0; vf < this.totalVfs; vf++) {
      this.blocks[vf] = [...(saved.blocks[vf] ?? [])];
      this.custom[vf] = saved.custom?.[vf] ?? this.blocks[vf].length > 0;
    }
    this.autoProvisioned = saved.auto ?? false;
    return true;
  }

  /** main.c mgpu_remove(): SR-IOV off, the files gone, the table emptied. */
  remove(then: () => void): void {
    this.sriov.disable(this.pf, () => {
      this.vfs.remove(`${this.pf.sysPath}/sriov_admin`);
      this.clear();
      then();
    });
  }

  private get src(): string {
    return `iovh_mock_gpu ${this.pf.bdf}`;
  }

  private used(except: number | null = null): Set<number> {
    const s = new Set<number>();
    this.blocks.forEach((b, vf) => {
      if (vf !== except) for (const x of b) s.add(x);
    });
    return s;
  }

  /** main.c mgpu_provision(): round up to a block, the lowest free blocks (the VF's own count as free). */
  private provision(vf: number, bytes: bigint): void {
    const bs = this.spec.blockSize;
    const rounded = ((bytes + bs - 1n) / bs) * bs;
    if (rounded / bs > BigInt(this.slots)) fail('ENOSPC', 'more than the VF BAR 2 can show');
    const n = Number(rounded / bs);
    const taken = this.used(vf);
    const list: number[] = [];
    for (let b = 0; b < this.numBlocks && list.length < n; b++) if (!taken.has(b)) list.push(b);
    if (list.length < n) fail('ENOSPC', 'too few free blocks');
    this.blocks[vf] = list;
  }

  /** main.c mgpu_auto_provision(): no VF custom: the free LMEM shared evenly in whole blocks. */
  private autoProvision(numVfs: number): void {
    if (this.custom.some((c) => c)) return;
    const free = this.numBlocks - this.used().size;
    const each = Math.min(Math.floor(free / numVfs), this.slots);
    for (let vf = 0; vf < numVfs; vf++) this.provision(vf, BigInt(each) * this.spec.blockSize);
    this.autoProvisioned = true;
    this.kernel.log(LogLevel.INFO, this.src, `auto-provisioned ${numVfs} VFs with ${each} blocks of LMEM each`);
  }

  private clear(): void {
    for (let vf = 0; vf < this.totalVfs; vf++) this.blocks[vf] = [];
  }

  private releaseAuto(): void {
    if (!this.autoProvisioned) return;
    this.clear();
    this.autoProvisioned = false;
  }

  /** VFs that were enabled before (a state file, a capture): their provisioning is already what load() put back. */
  enableLoaded(numVfs: number): void {
    this.sriov.enable(this.pf, numVfs);
  }

  /** main.c mgpu_sriov_configure(). */
  sriovConfigure(numVfs: number): number {
    if (numVfs === 0) {
      this.sriov.disable(this.pf, () => undefined);
      this.releaseAuto();
      return 0;
    }
    this.autoProvision(numVfs);
    this.sriov.enable(this.pf, numVfs);
    return numVfs;
  }

  private addFiles(): void {
    const base = `${this.pf.sysPath}/sriov_admin`;
    const bs = this.spec.blockSize;
    this.vfs.addText(
      `${base}/geometry`,
      () =>
        `lmem ${this.spec.lmem} block ${bs} blocks ${this.numBlocks} vf_lmem ${this.spec.vfLmem} slots ${this.slots} total_vfs ${this.totalVfs}\n`,
    );
    for (let vf = 0; vf < this.totalVfs; vf++) {
      const dir = `${base}/vf${vf + 1}`;
      this.vfs.addFile(`${dir}/profile/vram_quota`, {
        show: () => `${BigInt(this.blocks[vf]!.length) * bs}\n`,
        store: (data) => {
          const bytes = kstrtoull(data);
          this.provision(vf, bytes);
          this.custom[vf] = bytes > 0n;
        },
      });
      this.vfs.addFile(`${dir}/lmem_blocks`, {
        show: () => `${this.blocks[vf]!.join(' ')}\n`,
        store: (data) => {
          // main.c lmem_blocks_store(): space or comma separated block numbers; empty releases.
          const list: number[] = [];
          for (const tok of data.trim().split(/[ ,\n]/)) {
            if (!tok) continue;
            if (list.length === this.slots) fail('ENOSPC', 'more blocks than VF BAR 2 slots');
            const b = kstrtouint(tok);
            if (b >= this.numBlocks || list.includes(b)) fail('EINVAL');
            list.push(b);
          }
          const taken = this.used(vf);
          if (list.some((b) => taken.has(b))) fail('EBUSY', 'another VF holds a block');
          this.blocks[vf] = list;
          this.custom[vf] = list.length > 0;
        },
      });
    }
  }

  /**
   * xlate.c mgpu_translate(): RFC v1 7/8 against the block table. Returns
   * the segments, or the -errno name where the stand-in falls back to
   * scatter-gather (logging the quirk as the module does).
   */
  translate(
    ranges: readonly { start: bigint; end: bigint }[],
    isRam: (addr: bigint) => boolean,
    onBus: readonly PciDev[],
    form: 'rfc-v1' | 'fixed' = 'rfc-v1',
  ): XlateSeg[] | 'ENOENT' | 'ENXIO' | 'EOPNOTSUPP' | 'ENODEV' | 'EPERM' | 'EINVAL' {
    if (ranges.length === 0) return 'ENODEV';
    const first = ranges[0]!.start;
    if (isRam(first)) return 'EOPNOTSUPP';
    if (form === 'fixed') return this.translateFixed(ranges);
    const vf = rfcFindVfDev(onBus, first);
    if (vf && !vf.isVirtfn) return 'ENOENT'; // pci_iov_vf_id(): -EINVAL for a device that is not a VF, no message
    if (!vf) {
      this.kernel.log(
        LogLevel.WARNING,
        this.src,
        `RFC 7/8: no VF on bus ${this.pf.bus.toString(16).padStart(2, '0')} owns 0x${first.toString(16).padStart(16, '0')} (a VF on another bus, RFC quirk 5, or its BAR 2's last page, quirk 1); RFC v1 leaves the import untranslated here (quirk 2)`,
      );
      return 'ENOENT';
    }
    // pci_iov_vf_id(): the VF's number at its own PF, which may be another PF on this bus; past this PF's table
    // the module reads out of bounds, the mock takes the VF as unprovisioned.
    const vfid = vf.vfIndex!;
    const own = this.blocks[vfid] ?? [];
    if (own.length === 0) {
      this.kernel.log(
        LogLevel.WARNING,
        this.src,
        `RFC 7/8: VF${vfid + 1} (${vf.bdf}) has no LMEM; RFC v1 dereferences the NULL LMEM object here (quirk 4)`,
      );
      return 'ENXIO';
    }
    const ioStart = vf.bar(2)!.start;
    const lmemStart = this.pf.bar(2)!.start;
    const bs = this.spec.blockSize;
    return ranges.map((r, i) => {
      // Every range against the first's VF.
      const offset = r.start - ioStart;
      const len = r.end - r.start + 1n;
      const slot = offset / bs;
      let block: bigint;
      if (slot < BigInt(own.length)) block = BigInt(own[Number(slot)]!);
      else {
        // xe_bo_addr() past the object: the blocks after its last one.
        block = BigInt(own[own.length - 1]!) + (slot - BigInt(own.length) + 1n);
        this.kernel.log(
          LogLevel.WARNING,
          this.src,
          `RFC 7/8: range ${i} at VF${vfid + 1} BAR 2 offset 0x${offset.toString(16)} is past its ${own.length} blocks of LMEM (beyond quota); translated to PF block ${block}`,
        );
      }
      return { addr: lmemStart + block * bs + (offset % bs), len: PAGE << getOrder(len) };
    });
  }

  /**
   * xlate.c fixed_find_vf_dev(): the VF of this PF (wherever its routing ID
   * puts it) whose whole BAR 2 holds @phys.
   */
  private fixedFindVf(phys: bigint): PciDev | null {
    for (const vf of this.pf.sriov?.vfs ?? []) {
      const bar = vf.bar(2);
      if (bar && bar.size > 0n && phys >= bar.start && phys - bar.start < bar.size) return vf;
    }
    return null;
  }

  /**
   * xlate.c fixed_translate(): every range owned by the first's VF (EPERM),
   * inside its LMEM (EINVAL), walked block by block through its table with
   * its exact length: one segment per run of physically adjacent blocks.
   */
  private translateFixed(
    ranges: readonly { start: bigint; end: bigint }[],
  ): XlateSeg[] | 'ENOENT' | 'ENXIO' | 'EPERM' | 'EINVAL' {
    const first = ranges[0]!.start;
    const hex = (n: bigint) => `0x${n.toString(16).padStart(16, '0')}`;
    const owner = this.fixedFindVf(first);
    if (!owner) {
      this.kernel.log(LogLevel.WARNING, this.src, `RFC 7/8 (fixed): no VF of this PF owns ${hex(first)}: refused`);
      return 'ENOENT';
    }
    const vfid = owner.vfIndex!;
    for (const [i, r] of ranges.entries()) {
      if (i > 0 && this.fixedFindVf(r.start) !== owner) {
        this.kernel.log(
          LogLevel.WARNING,
          this.src,
          `RFC 7/8 (fixed): range ${i} (${hex(r.start)}) is not in the BAR 2 of VF${vfid + 1}, which owns range 0: refused`,
        );
        return 'EPERM';
      }
    }
    const own = this.blocks[vfid] ?? [];
    if (own.length === 0) {
      this.kernel.log(LogLevel.WARNING, this.src, `RFC 7/8 (fixed): VF${vfid + 1} (${owner.bdf}) has no LMEM: refused`);
      return 'ENXIO';
    }
    const ioStart = owner.bar(2)!.start;
    const lmemStart = this.pf.bar(2)!.start;
    const bs = this.spec.blockSize;
    for (const [i, r] of ranges.entries()) {
      const offset = r.start - ioStart;
      const len = r.end - r.start + 1n;
      if (offset + len > BigInt(own.length) * bs) {
        this.kernel.log(
          LogLevel.WARNING,
          this.src,
          `RFC 7/8 (fixed): range ${i} at VF${vfid + 1} BAR 2 offset 0x${offset.toString(16)}, 0x${len.toString(16)} bytes, is past its ${own.length} blocks of LMEM: refused`,
        );
        return 'EINVAL';
      }
    }
    const segs: XlateSeg[] = [];
    for (const r of ranges) {
      let offset = r.start - ioStart;
      let left = r.end - r.start + 1n;
      let firstPiece = true;
      while (left > 0n) {
        const inBlock = bs - (offset % bs);
        const len = left < inBlock ? left : inBlock;
        const addr = lmemStart + BigInt(own[Number(offset / bs)]!) * bs + (offset % bs);
        const prev = segs[segs.length - 1];
        // Within one range, a piece that follows the last one in the PF's LMEM extends it.
        if (prev && !firstPiece && prev.addr + prev.len === addr) prev.len += len;
        else segs.push({ addr, len });
        firstPiece = false;
        offset += len;
        left -= len;
      }
    }
    return segs;
  }
}
