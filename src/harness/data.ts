// Data evidence (docs/internals.md "Principles"): bytes written through one path and
// read through the other, at the first and last page of every exported range.
//
//   GPU -> CPU: MI_STORE_DATA_IMM of the pattern into the imported BO (batch
//   built by src/uapi/batch.ts), then the CPU reads the VF's BAR 2 through
//   VFIO and verifies the pattern there.
//   CPU -> GPU: the CPU writes the pattern through BAR 2, MI_COPY_MEM_MEM
//   copies the imported pages into a PF system-memory BO, the CPU verifies it.
//
// The pattern's address is the VF LMEM offset (BAR 2 offset), so bytes that
// land at another offset, in another VF, or from a previous run never verify
// (src/uapi/pattern.ts); each check uses a fresh random seed, and the CPU
// clears the pages first, so a write that went nowhere reads as zeros.
// Verification runs in C (core/pattern.c) on the native backend: on a mapping
// (Mapping.verify) when the BAR can be mmapped through VFIO, else on the bytes
// of a VFIO region read (src/core/pattern.ts; its TypeScript twin where the
// addon is not loaded).

import { randomBytes } from 'node:crypto';
import type { Mapping, PatternMismatch } from '../backend/types.js';
import { buildCopyBatch, buildStoreBatch } from '../uapi/batch.js';
import { firstDifferingByte } from '../uapi/pattern.js';
import { patternFill, patternVerify } from '../core/pattern.js';
import { VFIO } from '../uapi/constants.js';
import type { DmaRange, VfioDevice } from '../uapi/vfio.js';
import { hex, type Json } from '../report/model.js';
import type { Bound, Gpu } from './gpu.js';
import type { ScenarioContext } from './scenario.js';
import { PAGE } from './steps.js';

export interface DataPage {
  range: number;
  which: 'first' | 'last';
  /** Offset in the imported BO (ranges are concatenated in order). */
  boOffset: bigint;
  /** Offset in BAR 2 = VF LMEM offset = pattern address. */
  barOffset: bigint;
}

/** First and last page of every range (one page when the range is one page). */
export function rangePages(ranges: readonly DmaRange[]): DataPage[] {
  const out: DataPage[] = [];
  let bo = 0n;
  ranges.forEach((r, i) => {
    const offset = BigInt(r.offset);
    const length = BigInt(r.length);
    out.push({ range: i, which: 'first', boOffset: bo, barOffset: offset });
    if (length > PAGE)
      out.push({ range: i, which: 'last', boOffset: bo + length - PAGE, barOffset: offset + length - PAGE });
    bo += length;
  });
  return out;
}

/** CPU access to a BAR through VFIO: an mmap of the region when VFIO allows it, else pread/pwrite. */
export interface BarAccess {
  method: 'vfio-mmap' | 'vfio-region-rw' | 'bo-mmap';
  fill(offset: bigint, length: number, seed: bigint, base: bigint): void;
  verify(offset: bigint, length: number, seed: bigint, base: bigint): PatternMismatch | null;
  zero(offset: bigint, length: number): void;
  read(offset: bigint, length: number): Uint8Array;
  /**
   * Drop the mapping now (also done by the cleanup stack). An mmap holds a
   * reference on the VFIO device file: until it goes, closing the device fd
   * is not its last close, and nothing is revoked (docs/kernel.md §3.5).
   */
  release(): void;
}

export function barAccess(ctx: ScenarioContext, device: VfioDevice, region: number): BarAccess {
  const info = device.regionInfo(region);
  if ((info.flags & VFIO.REGION_INFO_FLAG_MMAP) !== 0 && info.size <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const map: Mapping = device.mmapRegion(region);
    ctx.defer(`munmap BAR ${region} of ${device.bdf}`, () => map.unmap());
    return mappedAccess(map, 'vfio-mmap');
  }
  return {
    method: 'vfio-region-rw',
    fill: (o, n, seed, base) => {
      const buf = new Uint8Array(n);
      patternFill(buf, seed, base);
      device.write(region, o, buf);
    },
    verify: (o, n, seed, base) => patternVerify(device.read(region, o, n), seed, base),
    zero: (o, n) => void device.write(region, o, new Uint8Array(n)),
    read: (o, n) => device.read(region, o, n),
    release: () => undefined,
  };
}

/**
 * Pattern access through a Mapping. Mapping.fill/verify take the pattern
 * address of byte 0 of the mapping (`base + offset` is the address at
 * `offset`, src/backend/types.ts); ours take the address of the first byte of
 * the span, so they pass `base - offset`, or, when that would be negative,
 * verify a copy of the bytes (src/core/pattern.ts: C where the addon is loaded).
 */
export function mappedAccess(map: Mapping, method: BarAccess['method']): BarAccess {
  return {
    method,
    fill: (o, n, seed, base) => {
      if (base >= o) map.fill(Number(o), n, seed, base - o);
      else {
        const buf = new Uint8Array(n);
        patternFill(buf, seed, base);
        map.write(Number(o), buf);
      }
    },
    verify: (o, n, seed, base) =>
      base >= o ? map.verify(Number(o), n, seed, base - o) : patternVerify(map.read(Number(o), n), seed, base),
    zero: (o, n) => map.write(Number(o), new Uint8Array(n)),
    read: (o, n) => map.read(Number(o), n),
    release: () => map.unmap(),
  };
}

export interface PageResult extends DataPage {
  mismatch: PatternMismatch | null;
}

export interface DataCheck {
  direction: 'gpu-write-cpu-read' | 'cpu-write-gpu-read';
  seed: bigint;
  method: string;
  pages: PageResult[];
  ok: boolean;
}

export function freshSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

/** How long a batch of ours may run before it counts as stuck (it is a few hundred KiB of MI stores at most). */
function execWaitMs(ctx: ScenarioContext): number {
  return Math.max(2000, ctx.timing.stallMs * 2);
}

export async function gpuWriteCpuRead(
  ctx: ScenarioContext,
  gpu: Gpu,
  bar: BarAccess,
  bound: Bound,
  pages: readonly DataPage[],
): Promise<DataCheck> {
  const seed = freshSeed();
  for (const p of pages) bar.zero(p.barOffset, Number(PAGE));
  const batch = buildStoreBatch(
    pages.map((p) => ({ va: bound.va! + p.boOffset, length: Number(PAGE), seed, base: p.barOffset })),
  );
  await gpu.exec(batch, execWaitMs(ctx));
  const results = pages.map((p) => ({ ...p, mismatch: bar.verify(p.barOffset, Number(PAGE), seed, p.barOffset) }));
  return record(ctx, {
    direction: 'gpu-write-cpu-read',
    seed,
    method: `MI_STORE_DATA_IMM, CPU read via ${bar.method}`,
    pages: results,
    ok: results.every((r) => !r.mismatch),
  });
}

/** A CPU-write, GPU-read check, with the GPU's copies kept for a closer look. */
export interface ReadCheck extends DataCheck {
  /** The bytes the GPU copied for page `i` of the check. */
  copied(i: number): Uint8Array;
  /** Does the GPU's copy of page `i` hold the pattern of BAR 2 offset `at` (this check's seed)? */
  holds(i: number, at: bigint): boolean;
}

/**
 * The CPU writes the pattern through BAR 2, the GPU only reads through the
 * import (MI_COPY_MEM_MEM into a PF system-memory BO). This is the direction
 * for translations that may be wrong (the edge/* corners, RFC quirks
 * 1-8): a wrong read costs nothing, a wrong GPU write lands in another VF's or
 * the PF's VRAM. `alsoFill` names more BAR 2 offsets to fill with their own
 * pattern (pages a wrong translation may read instead), so that holds() can
 * tell where the bytes came from.
 */
export async function cpuWriteGpuRead(
  ctx: ScenarioContext,
  gpu: Gpu,
  bar: BarAccess,
  bound: Bound,
  pages: readonly DataPage[],
  options: { alsoFill?: readonly bigint[] } = {},
): Promise<ReadCheck> {
  const seed = freshSeed();
  for (const p of pages) bar.fill(p.barOffset, Number(PAGE), seed, p.barOffset);
  for (const at of options.alsoFill ?? []) bar.fill(at, Number(PAGE), seed, at);
  const dst = gpu.sysmem(BigInt(pages.length) * PAGE);
  const batch = buildCopyBatch(
    pages.map((p, i) => ({ src: bound.va! + p.boOffset, dst: dst.va + BigInt(i) * PAGE, length: Number(PAGE) })),
  );
  await gpu.exec(batch, execWaitMs(ctx));
  const sys = mappedAccess(dst.map, 'bo-mmap');
  const results = pages.map((p, i) => ({
    ...p,
    mismatch: sys.verify(BigInt(i) * PAGE, Number(PAGE), seed, p.barOffset),
  }));
  const check = record(ctx, {
    direction: 'cpu-write-gpu-read',
    seed,
    method: `CPU write via ${bar.method}, MI_COPY_MEM_MEM to system memory`,
    pages: results,
    ok: results.every((r) => !r.mismatch),
  });
  return {
    ...check,
    copied: (i) => sys.read(BigInt(i) * PAGE, Number(PAGE)),
    holds: (i, at) => sys.verify(BigInt(i) * PAGE, Number(PAGE), seed, at) === null,
  };
}

/** The evidence of each page checked: where it is, and its first mismatch (the report's `data` pages). */
export function pageEvidence(pages: readonly PageResult[]): Json {
  return pages.map((p) => ({
    range: p.range,
    page: p.which,
    barOffset: hex(p.barOffset),
    boOffset: hex(p.boOffset),
    ok: p.mismatch === null,
    mismatch: p.mismatch
      ? {
          offset: hex(p.mismatch.offset),
          byte: hex(firstDifferingByte(p.mismatch)),
          expected: hex(p.mismatch.expected),
          actual: hex(p.mismatch.actual),
        }
      : null,
  }));
}

function record(ctx: ScenarioContext, check: DataCheck): DataCheck {
  const pages = pageEvidence(check.pages);
  ctx.append('data', { direction: check.direction, method: check.method, seed: hex(check.seed), ok: check.ok, pages });
  return check;
}

/** One line about the first bad page of a check, for a failure message. */
export function describeMismatch(check: DataCheck): string {
  const bad = check.pages.filter((p) => p.mismatch);
  if (bad.length === 0) return `${check.direction}: all ${check.pages.length} pages verified`;
  const p = bad[0]!;
  const m = p.mismatch!;
  const zero =
    m.actual === 0n
      ? ' (zero: the write went nowhere)'
      : m.actual === 0xffffffffffffffffn
        ? ' (all ones: nothing decodes that address)'
        : '';
  return (
    `${check.direction}: ${bad.length} of ${check.pages.length} pages wrong; first: ${p.which} page of range ${p.range} ` +
    `(BAR offset ${hex(p.barOffset)}), word at +${hex(m.offset)} is ${hex(m.actual)}, expected ${hex(m.expected)}${zero}; first differing byte +${hex(firstDifferingByte(m))}`
  );
}
