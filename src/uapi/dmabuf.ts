// A dma-buf fd, whoever exported it (vfio-pci, xe, udmabuf), with the calls
// the dma-buf core itself implements (drivers/dma-buf/dma-buf.c,
// include/uapi/linux/dma-buf.h; docs/kernel.md §10).
import type { Backend, Fd, Mapping } from '../backend/types.js';
import { DMA_BUF, PROT } from './constants.js';
import { parseDmaBufFdinfo, type DmaBufFdinfo } from './fdinfo.js';

export class DmaBuf {
  private open = true;

  /**
   * @param fd the dma-buf fd, now owned by this object
   * @param source where it came from (for messages): `vfio 0000:03:00.1 BAR2`, ...
   */
  constructor(
    readonly backend: Backend,
    readonly fd: Fd,
    readonly source: string,
  ) {}

  get closed(): boolean {
    return !this.open;
  }

  /**
   * DMA_BUF_SET_NAME_B. The kernel copies at most DMA_BUF_NAME_LEN (32) bytes
   * including the NUL (strndup_user: a longer name is EINVAL), so names are for
   * test identification, not data.
   */
  setName(name: string): void {
    this.backend.dev.dmaBufSetName(this.fd, name);
  }

  /** DMA_BUF_IOCTL_SYNC with raw flags (DMA_BUF.SYNC_*). */
  sync(flags: bigint): void {
    this.backend.dev.dmaBufSync(this.fd, flags);
  }

  /** Bracket CPU access: start(READ|WRITE) ... end(READ|WRITE). */
  beginCpuAccess(flags: bigint = DMA_BUF.SYNC_RW): void {
    this.sync(DMA_BUF.SYNC_START | flags);
  }

  endCpuAccess(flags: bigint = DMA_BUF.SYNC_RW): void {
    this.sync(DMA_BUF.SYNC_END | flags);
  }

  /** /proc/self/fdinfo/<fd>: size, count, exp_name, name, inode. */
  fdinfo(): DmaBufFdinfo {
    return parseDmaBufFdinfo(this.backend.fs.readText(`/proc/self/fdinfo/${this.fd}`));
  }

  /** mmap(2) of the dma-buf (vfio-pci's has no mmap op: EINVAL, docs/kernel.md §3.3). */
  mmap(length: number, prot: number = PROT.READ | PROT.WRITE, offset = 0n): Mapping {
    return this.backend.dev.mmap(this.fd, offset, length, prot);
  }

  /** Idempotent. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.backend.dev.close(this.fd);
  }
}
