// The CPU/PCI physical address space (contracts.ts PhysicalBus): system RAM,
// and every decoded memory BAR routed to what sits behind it.
//
// - an xe PF's BAR 2 (LMEM_BAR) is a window onto VRAM: offset X is DPA X;
// - a VF's BAR 2 goes through the LMTT to the VF's LMEM object(s) (docs/kernel.md
//   §9); offsets beyond the VF's quota are unmapped: reads return all ones and
//   writes are dropped;
// - other BARs (MMIO registers) are modelled as plain scratch memory;
// - an address nobody decodes reads as all ones (a PCIe Unsupported Request)
//   and swallows writes.

import type { PhysicalBus } from './contracts.js';
import { ChunkedMemory } from './memory.js';
import type { PciDev, PciSubsystem } from './pci.js';
import type { XePf } from './xe-pf.js';
import type { MockGpuDevice } from './mock-gpu.js';

interface Region {
  readonly start: bigint;
  readonly end: bigint;
  readonly kind: 'ram' | 'mmio';
  /** Read `out.length` bytes at region offset `off`. */
  read(off: bigint, out: Uint8Array): void;
  write(off: bigint, data: Uint8Array): void;
}

export class PhysicalBusImpl implements PhysicalBus {
  readonly ram: ChunkedMemory;
  private regions: Region[] | null = null;
  /** iovh's mock GPU device behind a PF, bound to its driver or not (src/mock/mock-gpu.ts), set by the platform. */
  mockGpuOf: (pf: PciDev) => MockGpuDevice | null = () => null;
  private readonly scratch = new Map<string, ChunkedMemory>();

  constructor(
    private readonly ramRanges: readonly { start: bigint; size: bigint }[],
    private readonly pci: PciSubsystem,
    private readonly xeOf: (pf: PciDev) => XePf | null,
    private readonly vramOf: (pf: PciDev) => ChunkedMemory | null,
    /** false when a device does not answer memory cycles (a VF in D3hot). */
    private readonly decodes: (dev: PciDev) => boolean,
  ) {
    const end = ramRanges.reduce((a, r) => (r.start + r.size > a ? r.start + r.size : a), 0n);
    this.ram = new ChunkedMemory(end);
  }

  /** The PCI topology or a driver binding changed: rebuild the routing on next access. */
  invalidate(): void {
    this.regions = null;
  }

  private map(): Region[] {
    if (this.regions) return this.regions;
    const out: Region[] = [];
    for (const r of this.ramRanges) {
      out.push({
        start: r.start,
        end: r.start + r.size,
        kind: 'ram',
        read: (off, buf) => this.ram.readInto(r.start + off, buf),
        write: (off, data) => this.ram.write(r.start + off, data),
      });
    }
    for (const dev of this.pci.all()) {
      for (const bar of dev.bars) {
        if (bar.kind === 'none' || bar.kind === 'io') continue;
        out.push({
          start: bar.start,
          end: bar.start + bar.size,
          kind: 'mmio',
          ...this.backing(dev, bar.index, bar.size),
        });
      }
    }
    out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.regions = out;
    return out;
  }

  private backing(dev: PciDev, index: number, size: bigint): Pick<Region, 'read' | 'write'> {
    const dead = { read: (_o: bigint, buf: Uint8Array) => buf.fill(0xff), write: () => undefined };
    const live = (r: Pick<Region, 'read' | 'write'>) => ({
      read: (o: bigint, buf: Uint8Array) => (this.decodes(dev) ? r.read(o, buf) : buf.fill(0xff)),
      write: (o: bigint, d: Uint8Array) => (this.decodes(dev) ? r.write(o, d) : undefined),
    });
    if (index === 2 && !dev.isVirtfn && dev.spec?.xe) {
      return live({
        read: (o, buf) => {
          const vram = this.vramOf(dev);
          if (!vram) return buf.fill(0xff);
          const inside =
            o >= vram.size ? 0 : Number(vram.size - o < BigInt(buf.length) ? vram.size - o : BigInt(buf.length));
          if (inside > 0) vram.readInto(o, buf.subarray(0, inside));
          buf.fill(0xff, inside);
        },
        write: (o, d) => {
          const vram = this.vramOf(dev);
          if (!vram || o >= vram.size) return;
          const inside = Number(vram.size - o < BigInt(d.length) ? vram.size - o : BigInt(d.length));
          vram.write(o, d.subarray(0, inside));
        },
      });
    }
    if (index === 2 && dev.physfn?.spec?.xe) {
      const pf = dev.physfn;
      const vfIndex = dev.vfIndex!;
      const walk = (o: bigint, len: number, fn: (dpa: bigint | null, at: number, n: number) => void) => {
        let done = 0;
        while (done < len) {
          const t = this.xeOf(pf)?.lmttTranslate(vfIndex, o + BigInt(done)) ?? null;
          if (!t) {
            fn(null, done, len - done);
            return;
          }
          const n = Math.min(len - done, Number(t.run));
          fn(t.dpa, done, n);
          done += n;
        }
      };
      return live({
        read: (o, buf) =>
          walk(o, buf.length, (dpa, at, n) => {
            const vram = this.vramOf(pf);
            if (dpa === null || !vram) buf.fill(0xff, at, at + n);
            else vram.readInto(dpa, buf.subarray(at, at + n));
          }),
        write: (o, d) =>
          walk(o, d.length, (dpa, at, n) => {
            const vram = this.vramOf(pf);
            if (dpa !== null && vram) vram.write(dpa, d.subarray(at, at + n));
          }),
      });
    }
    // iovh's mock GPU (hw/misc/iovh-mock-gpu.c): PF BAR 2 is the LMEM; a VF's BAR 2 slot k is the block its table names.
    const mg = index === 2 ? this.mockGpuOf(dev.physfn ?? dev) : null;
    if (mg && !dev.isVirtfn) {
      return live({
        read: (o, buf) => {
          const inside = o >= mg.lmem.size ? 0 : Math.min(buf.length, Number(mg.lmem.size - o));
          if (inside > 0) mg.lmem.readInto(o, buf.subarray(0, inside));
          buf.fill(0xff, inside);
        },
        write: (o, d) => {
          const inside = o >= mg.lmem.size ? 0 : Math.min(d.length, Number(mg.lmem.size - o));
          if (inside > 0) mg.lmem.write(o, d.subarray(0, inside));
        },
      });
    }
    if (mg && dev.isVirtfn) {
      const vfIndex = dev.vfIndex!;
      const walk = (o: bigint, len: number, fn: (lmem: bigint | null, at: number, n: number) => void) => {
        let done = 0;
        while (done < len) {
          const t = mg.slotAt(vfIndex, o + BigInt(done));
          const n = t ? Math.min(len - done, Number(t.run)) : len - done;
          if (!t) {
            // An unbacked slot reads all ones up to the next slot.
            const bs = mg.spec.blockSize;
            const at = o + BigInt(done);
            const gap = Math.min(len - done, Number(bs - (at % bs)));
            fn(null, done, gap);
            done += gap;
            continue;
          }
          fn(t.lmem, done, n);
          done += n;
        }
      };
      return live({
        read: (o, buf) =>
          walk(o, buf.length, (lmem, at, n) => {
            if (lmem === null) buf.fill(0xff, at, at + n);
            else mg.lmem.readInto(lmem, buf.subarray(at, at + n));
          }),
        write: (o, d) =>
          walk(o, d.length, (lmem, at, n) => {
            if (lmem !== null) mg.lmem.write(lmem, d.subarray(at, at + n));
          }),
      });
    }
    if (dev.removing) return dead;
    const key = `${dev.bdf}/${index}`;
    return live({
      // readInto returns nothing: `?.readInto(...) ?? fill(0)` would zero what was just read.
      read: (o, buf) => {
        const m = this.scratch.get(key);
        if (m) m.readInto(o, buf);
        else buf.fill(0);
      },
      write: (o, d) => {
        let m = this.scratch.get(key);
        if (!m) {
          m = new ChunkedMemory(size);
          this.scratch.set(key, m);
        }
        m.write(o, d);
      },
    });
  }

  private find(address: bigint): Region | undefined {
    const regions = this.map();
    let lo = 0;
    let hi = regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = regions[mid]!;
      if (address < r.start) hi = mid - 1;
      else if (address >= r.end) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  private nextStart(address: bigint): bigint | null {
    for (const r of this.map()) if (r.start > address) return r.start;
    return null;
  }

  private span(
    address: bigint,
    length: number,
    fn: (r: Region | undefined, at: number, n: number, off: bigint) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const a = address + BigInt(done);
      const r = this.find(a);
      let n: number;
      if (r) n = Math.min(length - done, Number(r.end - a));
      else {
        const next = this.nextStart(a);
        n = next === null ? length - done : Math.min(length - done, Number(next - a));
      }
      fn(r, done, n, r ? a - r.start : 0n);
      done += n;
    }
  }

  read(address: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.span(address, length, (r, at, n, off) => {
      if (r) r.read(off, out.subarray(at, at + n));
      else out.fill(0xff, at, at + n);
    });
    return out;
  }

  write(address: bigint, data: Uint8Array): void {
    this.span(address, data.length, (r, at, n, off) => r?.write(off, data.subarray(at, at + n)));
  }

  classify(address: bigint): 'ram' | 'mmio' | 'none' {
    return this.find(address)?.kind ?? 'none';
  }

  /** Bytes of simulated memory actually held (RAM and BAR scratch; VRAM is counted by its owner). */
  residentBytes(): number {
    let n = this.ram.residentBytes();
    for (const m of this.scratch.values()) n += m.residentBytes();
    return n;
  }
}
