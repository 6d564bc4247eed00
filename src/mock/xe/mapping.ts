// CPU mappings of BOs: mmap(2) of the DRM fd at a GEM_MMAP_OFFSET offset
// (drm_gem_mmap -> ttm_bo_mmap_obj), and of the PCI barrier page. A mapping
// holds a reference on its BO (the vma keeps the GEM object) until munmap.
//
// Mappings also stand for the process memory the xe model can reach: VM_BIND
// user fences, WAIT_USER_FENCE and MAP_USERPTR take CPU addresses, and the
// model resolves those inside mappings it made itself (memory the mock
// platform maps elsewhere, e.g. a memfd, is not visible to it: EFAULT).

import type { Mapping, PatternMismatch } from '../../backend/types.js';
import { patternFillTs, patternVerifyTs } from '../../uapi/pattern.js';
import type { XeBo } from './bo.js';
import type { XeDevice } from './device.js';

const CHUNK = 1 << 20;

export class XeMapping implements Mapping {
  private mapped = true;

  constructor(
    private readonly dev: XeDevice,
    /** null: the PCI barrier page (writes are a barrier, reads zero) */
    readonly bo: XeBo | null,
    /** offset in the BO of byte 0 */
    readonly objOffset: number,
    readonly length: number,
    readonly writable: boolean,
    readonly address: bigint,
  ) {
    bo?.get();
  }

  get live(): boolean {
    return this.mapped;
  }

  private check(offset: number, length: number, write: boolean): void {
    if (!this.mapped) throw new RangeError(`xe mapping at 0x${this.address.toString(16)} was unmapped (SIGSEGV)`);
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.length
    ) {
      throw new RangeError(`access [${offset}, +${length}) outside the ${this.length}-byte mapping (SIGSEGV)`);
    }
    if (write && !this.writable) throw new RangeError('write to a mapping without PROT_WRITE (SIGSEGV)');
  }

  /** Access for the kernel side (user fences, userptr): no SIGSEGV, only the BO bytes. */
  kernelRead(offset: number, length: number): Uint8Array {
    return this.bo ? this.bo.read(this.objOffset + offset, length) : new Uint8Array(length);
  }

  kernelWrite(offset: number, data: Uint8Array): void {
    this.bo?.write(this.objOffset + offset, data);
    this.dev.wakeUserFenceWaiters();
  }

  read(offset: number, length: number): Uint8Array {
    this.check(offset, length, false);
    return this.kernelRead(offset, length);
  }

  write(offset: number, data: Uint8Array): void {
    this.check(offset, data.byteLength, true);
    this.kernelWrite(offset, data);
  }

  fill(offset: number, length: number, seed: bigint, base: bigint): void {
    this.check(offset, length, true);
    for (let done = 0; done < length; done += CHUNK) {
      const n = Math.min(CHUNK, length - done);
      const buf = new Uint8Array(n);
      patternFillTs(buf, seed, base + BigInt(offset + done));
      this.kernelWrite(offset + done, buf);
    }
  }

  verify(offset: number, length: number, seed: bigint, base: bigint): PatternMismatch | null {
    this.check(offset, length, false);
    for (let done = 0; done < length; done += CHUNK) {
      const n = Math.min(CHUNK, length - done);
      const bad = patternVerifyTs(this.kernelRead(offset + done, n), seed, base + BigInt(offset + done));
      if (bad) return { ...bad, offset: bad.offset + done };
    }
    return null;
  }

  /** A userptr VMA holds the pages (and so the BO) while it exists. */
  pin(): void {
    this.bo?.get();
  }

  unpin(): void {
    this.bo?.put();
  }

  unmap(): void {
    if (!this.mapped) return;
    this.mapped = false;
    this.dev.forgetMapping(this);
    this.bo?.put();
  }
}
