// VRAM allocation as xe's TTM VRAM manager does it: drm_buddy
// (drivers/gpu/drm/drm_buddy.c, drm_buddy_alloc_blocks without
// DRM_BUDDY_CONTIGUOUS_ALLOCATION).
//
// The allocation is made of power-of-two blocks, largest first
// (order = fls(pages) - 1, only ever decreasing); each block comes from the
// free list of the smallest order that has one, taking that list's last entry
// (free lists are sorted by offset, so the highest address) and splitting it
// keeping the right half. A fresh VRAM therefore hands out blocks top-down, and
// a large object made of several blocks is not contiguous in ascending order:
// exactly what RFC quirk 8 ("contiguity assumed") trips over. A topology
// can cap the block size (`vramBlockSize`) to force many blocks.

import type { VramBlock } from './contracts.js';

export class BuddyAllocator {
  /** free lists by order, offsets ascending */
  private readonly free = new Map<number, number[]>();
  private readonly freeOrder = new Map<number, number>();
  private readonly roots: { start: number; order: number }[] = [];
  private readonly maxOrder: number;
  private avail: number;

  constructor(
    readonly base: number,
    readonly size: number,
    readonly chunk = 4096,
  ) {
    let off = 0;
    let maxOrder = 0;
    while (size - off >= chunk) {
      let order = Math.floor(Math.log2((size - off) / chunk));
      while (order > 0 && off % (chunk * 2 ** order) !== 0) order--;
      this.roots.push({ start: off, order });
      this.insert(off, order);
      maxOrder = Math.max(maxOrder, order);
      off += chunk * 2 ** order;
    }
    this.maxOrder = maxOrder;
    this.avail = off;
  }

  availBytes(): number {
    return this.avail;
  }

  private insert(off: number, order: number): void {
    let list = this.free.get(order);
    if (!list) {
      list = [];
      this.free.set(order, list);
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! < off) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, off);
    this.freeOrder.set(off, order);
  }

  private take(off: number, order: number): void {
    const list = this.free.get(order)!;
    const i = list.indexOf(off);
    list.splice(i, 1);
    this.freeOrder.delete(off);
  }

  private allocOrder(order: number): number | null {
    for (let tmp = order; tmp <= this.maxOrder; tmp++) {
      const list = this.free.get(tmp);
      if (!list || list.length === 0) continue;
      let off = list[list.length - 1]!;
      this.take(off, tmp);
      while (tmp > order) {
        tmp--;
        const half = this.chunk * 2 ** tmp;
        this.insert(off, tmp);
        off += half;
      }
      return off;
    }
    return null;
  }

  /**
   * Allocate `size` bytes (rounded up to `minBlock`) in blocks of at least
   * `minBlock` and at most `maxBlock`. Null (nothing allocated) when it does
   * not fit: -ENOSPC in the kernel.
   */
  alloc(size: number, minBlock = this.chunk, maxBlock = Infinity): VramBlock[] | null {
    const minOrder = Math.max(0, Math.round(Math.log2(minBlock / this.chunk)));
    const cap = Number.isFinite(maxBlock)
      ? Math.max(minOrder, Math.floor(Math.log2(maxBlock / this.chunk)))
      : this.maxOrder;
    const unit = this.chunk * 2 ** minOrder;
    let pages = Math.ceil(size / unit) * 2 ** minOrder;
    if (pages === 0) return [];
    // A VRAM smaller than one minBlock (maxOrder < minOrder) has no block to give.
    if (minOrder > this.maxOrder) return null;
    const got: [number, number][] = [];
    let order = Math.min(cap, this.maxOrder, Math.floor(Math.log2(pages)));
    while (pages > 0) {
      order = Math.min(order, Math.floor(Math.log2(pages)));
      let off: number | null = null;
      for (;;) {
        off = this.allocOrder(order);
        if (off !== null) break;
        // `<=`: the search never goes below minOrder, whatever order it started from.
        if (order-- <= minOrder) {
          for (const [o, k] of got) this.release(o, k);
          return null;
        }
      }
      got.push([off, order]);
      this.avail -= this.chunk * 2 ** order;
      pages -= 2 ** order;
    }
    return got.map(([o, k]) => ({ dpa: BigInt(this.base + o), size: BigInt(this.chunk * 2 ** k) }));
  }

  private release(off: number, order: number): void {
    this.avail += this.chunk * 2 ** order;
    const root = this.roots.find((r) => off >= r.start && off < r.start + this.chunk * 2 ** r.order)!;
    while (order < root.order) {
      const size = this.chunk * 2 ** order;
      const rel = off - root.start;
      // rel ^ size, without 32-bit bitwise operators (VRAM offsets exceed 2^31)
      const buddy = root.start + (Math.floor(rel / size) % 2 === 0 ? rel + size : rel - size);
      if (this.freeOrder.get(buddy) !== order) break;
      this.take(buddy, order);
      off = Math.min(off, buddy);
      order++;
    }
    this.insert(off, order);
  }

  /**
   * Where a block lies in this allocator: its offset and order, or null when
   * it cannot be one of its blocks (a size that is not chunk * 2^k for an
   * order it has, an address outside it or not aligned to the size within its
   * root, a value past 2^53). A saved allocation comes from a state file, so
   * nothing about it is trusted: a size of 0 made the order -Infinity and the
   * search in claimOne never ended.
   */
  private place(b: VramBlock): { off: number; order: number } | null {
    const off = Number(b.dpa) - this.base;
    const size = Number(b.size);
    if (!Number.isSafeInteger(off) || !Number.isSafeInteger(size) || off < 0 || size < this.chunk) return null;
    const order = Math.round(Math.log2(size / this.chunk));
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder || this.chunk * 2 ** order !== size) return null;
    const root = this.roots.find((r) => off >= r.start && off < r.start + this.chunk * 2 ** r.order);
    if (!root || order > root.order || (off - root.start) % size !== 0) return null;
    return { off, order };
  }

  freeBlocks(blocks: readonly VramBlock[]): void {
    for (const b of blocks) {
      const at = this.place(b);
      // Only blocks this allocator handed out (or claimed) are freed: anything else is a bug of the mock's.
      if (!at) throw new Error(`freeing a VRAM block that is none of this allocator's (${b.dpa} + ${b.size})`);
      this.release(at.off, at.order);
    }
  }

  /** Mark blocks allocated (restoring a saved allocation). False if any is not free or is not a block here. */
  claim(blocks: readonly VramBlock[]): boolean {
    for (const b of blocks) {
      const at = this.place(b);
      if (!at || !this.claimOne(at.off, at.order)) return false;
    }
    return true;
  }

  private claimOne(off: number, order: number): boolean {
    // Find the free block containing [off, off + size) and split it down. `order` is an integer in
    // [0, maxOrder] (place()), so the search takes at most maxOrder + 1 steps.
    const root = this.roots.find((r) => off >= r.start && off < r.start + this.chunk * 2 ** r.order);
    if (!root) return false;
    for (let k = order; k <= root.order; k++) {
      const size = this.chunk * 2 ** k;
      const start = root.start + Math.floor((off - root.start) / size) * size;
      if (this.freeOrder.get(start) !== k) continue;
      this.take(start, k);
      let s = start;
      let kk = k;
      while (kk > order) {
        kk--;
        const half = this.chunk * 2 ** kk;
        if (off >= s + half) {
          this.insert(s, kk);
          s += half;
        } else {
          this.insert(s + half, kk);
        }
      }
      this.avail -= this.chunk * 2 ** order;
      return true;
    }
    return false;
  }
}
