// One xe device: the DRM device xe creates when it binds a PF. It owns what
// outlives a single open file (GEM objects, their mmap offsets, exported
// dma-bufs, CPU mappings), registers /dev/dri/cardN and renderD(128+N), and
// answers the platform's live-object counts.

import type { CharDevice, DmaBufObject, MockPlatform, PciDevice, XePfState } from '../contracts.js';
import type { LogLevel } from '../contracts.js';
import type { XeBo } from './bo.js';
import { DrmFile } from './file.js';
import type { JobOutcome } from './gpu.js';
import { DRM_MAJOR, DRM_RENDER_MINOR_BASE, PAGE } from './hw.js';
import type { XeMapping } from './mapping.js';

/** DRM_FILE_PAGE_OFFSET_START << PAGE_SHIFT: where GEM fake mmap offsets begin (drm_gem.c, 64-bit). */
const MMAP_OFFSET_START = 0x1_0000_0000;
/** Where the model places CPU mappings of BOs in the (synthetic) process address space. */
const CPU_MAP_BASE = 0x7f3a_0000_0000;
/** A direct-map style kernel address for the synthetic pointers trace lines show. */
const KERNEL_PTR_BASE = 0xffff_8881_0000_0000n;

export interface XeLiveObjects {
  /** open DRM files */
  files: number;
  /** GEM objects alive (created or imported) */
  bos: number;
  /** of which PRIME imports (each holds one dma-buf attachment) */
  imports: number;
  vms: number;
  execQueues: number;
  syncobjs: number;
  /** CPU mappings of BOs not yet unmapped */
  mappings: number;
}

let clientIds = 0;

export class XeDevice {
  readonly files = new Set<DrmFile>();
  readonly liveBos = new Set<XeBo>();
  /** dma-bufs this device exported, to recognise a self-import (xe_gem_prime_import) */
  readonly exports = new WeakMap<DmaBufObject, XeBo>();
  /** CPU mappings of BOs and the pid of the process that made each (one address space per process). */
  private readonly mappings = new Map<XeMapping, number>();
  private mmapNodes: { start: number; end: number; bo: XeBo }[] = [];
  private mmapNext = MMAP_OFFSET_START;
  private cpuNext = CPU_MAP_BASE;
  private boIds = 0;
  private gucIds = 0;
  private asids = 0;
  private pointers = new WeakMap<object, bigint>();
  private pointerNext = 0n;
  private ufenceWaiters = new Set<() => void>();
  private registered: string[] = [];
  /** drm_dev_unplug(): the PF was unbound while files stayed open */
  unplugged = false;
  /** The last job that ended in a fault or a hang (for tests reading the model's view). */
  lastJobFailure: JobOutcome | null = null;

  constructor(
    readonly platform: MockPlatform,
    readonly pf: PciDevice,
    /** DRM minor index: card<minor>, renderD<128 + minor> */
    readonly minor: number,
  ) {}

  get xePf(): XePfState {
    const s = this.platform.xePf(this.pf);
    if (!s) throw new Error(`xe model: ${this.pf.bdf} has no xe PF state`);
    return s;
  }

  get nodes(): readonly string[] {
    return [`/dev/dri/card${this.minor}`, `/dev/dri/renderD${DRM_RENDER_MINOR_BASE + this.minor}`];
  }

  get bound(): boolean {
    return this.registered.length > 0;
  }

  /** xe probe: the DRM minors appear. */
  bind(): void {
    if (this.bound) return;
    this.unplugged = false;
    const [card, render] = this.nodes as [string, string];
    const node = (path: string, minor: number, mode: number): CharDevice => ({
      path,
      major: DRM_MAJOR,
      minor,
      mode,
      parent: this.pf,
      open: (flags: number) => this.open(path, flags),
    });
    this.platform.addCharDevice(node(card, this.minor, 0o660));
    this.platform.addCharDevice(node(render, DRM_RENDER_MINOR_BASE + this.minor, 0o666));
    this.registered = [card, render];
  }

  /** xe remove: the minors go; files still open fail every ioctl with ENODEV (drm_dev_unplug). */
  unbind(): void {
    for (const p of this.registered) this.platform.removeCharDevice(p);
    this.registered = [];
    this.unplugged = true;
  }

  private open(path: string, flags: number): DrmFile {
    const f = new DrmFile(this, path, flags, ++clientIds);
    this.files.add(f);
    return f;
  }

  fileClosed(f: DrmFile): void {
    this.files.delete(f);
  }

  log(level: LogLevel, text: string): void {
    this.platform.kernel.log(level, `xe ${this.pf.bdf}`, text);
  }

  /** A stable synthetic kernel address for `obj` (what a kprobe fetch-arg would print). */
  ptr(obj: object): bigint {
    let p = this.pointers.get(obj);
    if (p === undefined) {
      p = KERNEL_PTR_BASE + this.pointerNext * 0x400n;
      this.pointerNext++;
      this.pointers.set(obj, p);
    }
    return p;
  }

  nextBoId(): number {
    return ++this.boIds;
  }

  nextGucId(): number {
    return this.gucIds++;
  }

  nextAsid(): number {
    return ++this.asids;
  }

  reserveMmapOffset(size: number): number {
    const start = this.mmapNext;
    this.mmapNext += Math.ceil(size / PAGE) * PAGE;
    return start;
  }

  registerMmap(bo: XeBo): void {
    this.mmapNodes.push({ start: bo.mmapStart, end: bo.mmapStart + Math.ceil(bo.size / PAGE) * PAGE, bo });
  }

  releaseMmapOffset(bo: XeBo): void {
    this.mmapNodes = this.mmapNodes.filter((n) => n.bo !== bo);
  }

  /** drm_vma_offset_lookup_locked: the object whose node holds [offset, offset + length). */
  mmapLookup(offset: number, length: number): XeBo | null {
    let lo = 0;
    let hi = this.mmapNodes.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const n = this.mmapNodes[mid]!;
      if (offset < n.start) hi = mid - 1;
      else if (offset >= n.end) lo = mid + 1;
      else return offset + length <= n.end ? n.bo : null;
    }
    return null;
  }

  allocCpuAddress(length: number): bigint {
    const at = this.cpuNext;
    // a guard page between mappings, like the kernel's gaps
    this.cpuNext += Math.ceil(length / PAGE) * PAGE + PAGE;
    return BigInt(at);
  }

  addMapping(m: XeMapping): void {
    this.mappings.set(m, this.platform.kernel.pid);
  }

  forgetMapping(m: XeMapping): void {
    this.mappings.delete(m);
  }

  /** The calling process's mapping that holds CPU bytes [address, address + length), and the offset in it. */
  resolveUser(address: bigint, length: number): { mapping: XeMapping; offset: number } | null {
    const pid = this.platform.kernel.pid;
    for (const [m, owner] of this.mappings) {
      if (owner === pid && address >= m.address && address + BigInt(length) <= m.address + BigInt(m.length)) {
        return { mapping: m, offset: Number(address - m.address) };
      }
    }
    return null;
  }

  onUserFenceWake(cb: () => void): () => void {
    this.ufenceWaiters.add(cb);
    return () => this.ufenceWaiters.delete(cb);
  }

  /** wake_up_all(&xe->ufence_wq): memory a user fence may watch has changed. */
  wakeUserFenceWaiters(): void {
    for (const w of [...this.ufenceWaiters]) w();
  }

  liveObjects(): XeLiveObjects {
    let vms = 0;
    let execQueues = 0;
    let syncobjs = 0;
    for (const f of this.files) {
      const c = f.counts();
      vms += c.vms;
      execQueues += c.execQueues;
      syncobjs += c.syncobjs;
    }
    let imports = 0;
    for (const bo of this.liveBos) if (bo.imported) imports++;
    return {
      files: this.files.size,
      bos: this.liveBos.size,
      imports,
      vms,
      execQueues,
      syncobjs,
      mappings: this.mappings.size,
    };
  }

  /** Exit of process `pid`: its mappings go away (the fd table closes the files). */
  processExit(pid: number): void {
    for (const [m, owner] of [...this.mappings]) if (owner === pid) m.unmap();
  }
}
