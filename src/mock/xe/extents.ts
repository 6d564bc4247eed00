// A linear offset space laid over a list of address extents: the VRAM blocks
// of a BO, the RAM chunks of a system BO, the entries of a scatter-gather
// table, the translated DPA entries of an IOV import. Typed arrays, one slot
// per extent (never per page), so an import of 262,144 ranges stays cheap.
//
// Offsets and addresses are JS numbers: every address space the model has
// (VRAM DPAs, PCI BARs, system RAM, 48-bit GPU VAs) fits below 2^53, and
// toSafe() turns the contracts' bigints into numbers with that check.

/** Where extent addresses point: SparseMemory (VRAM by DPA) or PhysicalBus. */
export interface AddressTarget {
  read(address: bigint, length: number): Uint8Array;
  write(address: bigint, data: Uint8Array): void;
}

export function toSafe(value: bigint, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`${what} 0x${value.toString(16)} is outside the model's address range`);
  return n;
}

export class ExtentMapBuilder {
  private starts: Float64Array = new Float64Array(16);
  private addrs: Float64Array = new Float64Array(16);
  private lens: Float64Array = new Float64Array(16);
  private n = 0;
  private total = 0;

  add(address: number, length: number): void {
    if (this.n === this.starts.length) {
      const grow = (a: Float64Array): Float64Array => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.addrs = grow(this.addrs);
      this.lens = grow(this.lens);
    }
    this.starts[this.n] = this.total;
    this.addrs[this.n] = address;
    this.lens[this.n] = length;
    this.n++;
    this.total += length;
  }

  get count(): number {
    return this.n;
  }

  build(): ExtentMap {
    return new ExtentMap(
      this.starts.subarray(0, this.n),
      this.addrs.subarray(0, this.n),
      this.lens.subarray(0, this.n),
      this.total,
    );
  }
}

export class ExtentMap {
  constructor(
    private readonly starts: Float64Array,
    private readonly addrs: Float64Array,
    private readonly lens: Float64Array,
    /** sum of the extent lengths: the size of the linear space */
    readonly total: number,
  ) {}

  static of(extents: Iterable<readonly [address: number, length: number]>): ExtentMap {
    const b = new ExtentMapBuilder();
    for (const [a, l] of extents) b.add(a, l);
    return b.build();
  }

  get count(): number {
    return this.starts.length;
  }

  /** Extent i as [linear start, address, length]. */
  extent(i: number): [start: number, address: number, length: number] {
    return [this.starts[i]!, this.addrs[i]!, this.lens[i]!];
  }

  startOf(i: number): number {
    return this.starts[i]!;
  }

  addressAt(i: number): number {
    return this.addrs[i]!;
  }

  lengthOf(i: number): number {
    return this.lens[i]!;
  }

  /** Index of the extent holding linear offset `offset`, or -1 past the end. */
  find(offset: number): number {
    if (offset < 0 || offset >= this.total) return -1;
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Address of linear offset `offset`, or -1 past the end. */
  addressOf(offset: number): number {
    const i = this.find(offset);
    return i < 0 ? -1 : this.addrs[i]! + (offset - this.starts[i]!);
  }

  /**
   * Visit [offset, offset + length) as address pieces: cb(address, pieceLength, positionInSpan).
   * Returns false when the span runs past the end (pieces up to there were visited).
   */
  walk(offset: number, length: number, cb: (address: number, len: number, pos: number) => void): boolean {
    let pos = 0;
    let i = this.find(offset);
    while (pos < length) {
      if (i < 0 || i >= this.starts.length) return false;
      const within = offset + pos - this.starts[i]!;
      const len = Math.min(this.lens[i]! - within, length - pos);
      cb(this.addrs[i]! + within, len, pos);
      pos += len;
      i++;
    }
    return true;
  }

  read(target: AddressTarget, offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.walk(offset, length, (a, len, pos) => out.set(target.read(BigInt(a), len), pos));
    return out;
  }

  write(target: AddressTarget, offset: number, data: Uint8Array): void {
    this.walk(offset, data.byteLength, (a, len, pos) => target.write(BigInt(a), data.subarray(pos, pos + len)));
  }
}

/**
 * [a0, b0, a1, b1, ...] pairs as numbers, from the packed BigUint64Array the
 * platform's exporters provide (InterconnectRanges.packed, SgTable.packed) or
 * from the object list. One pass, no per-entry objects.
 */
export function pairsOf(
  packed: BigUint64Array | undefined,
  list: () => readonly (readonly [bigint, bigint])[],
  what: string,
): Float64Array {
  if (packed) {
    // Read the u64s as little-endian u32 halves (x86_64, like the kernel): no bigint per element.
    const halves = new Uint32Array(packed.buffer, packed.byteOffset, packed.length * 2);
    const out = new Float64Array(packed.length);
    for (let i = 0; i < packed.length; i++) {
      const hi = halves[2 * i + 1]!;
      if (hi >= 0x200000)
        throw new RangeError(`${what} 0x${packed[i]!.toString(16)} is outside the model's address range`);
      out[i] = hi * 0x1_0000_0000 + halves[2 * i]!;
    }
    return out;
  }
  const l = list();
  const out = new Float64Array(2 * l.length);
  l.forEach(([a, b], i) => {
    out[2 * i] = toSafe(a, what);
    out[2 * i + 1] = toSafe(b, what);
  });
  return out;
}
