// An independent statement of the kernel's rules for VFIO_DEVICE_FEATURE
// with DMA_BUF, written from docs/kernel.md §3.1 and §3.3 and the 7.x source
// (drivers/vfio/vfio_main.c vfio_ioctl_device_feature, include/linux/vfio.h
// vfio_check_feature, drivers/vfio/pci/vfio_pci_dmabuf.c
// vfio_pci_core_feature_dma_buf, validate_dmabuf_input,
// vfio_pci_core_fill_phys_vec), as a table of checks in the kernel's order.
// It shares no code with the mock (src/mock/vfio.ts): the property tests
// compare the two.

/** A BAR as one line of sysfs `resource` gives it (drivers/pci/pci-sysfs.c resource_show). */
export interface Bar {
  index: number;
  start: bigint;
  size: bigint;
  flags: bigint;
}

const U64 = 1n << 64n;
const PAGE = 4096n;
/** SLUB's KMALLOC_MAX_SIZE with 4 KiB pages: 2^(MAX_PAGE_ORDER 10 + PAGE_SHIFT 12); memdup_user's kmalloc fails beyond it. */
const KMALLOC_MAX = 4n << 20n;
/** include/linux/dma-mapping.h: DMA_IOVA_USE_SWIOTLB, bit 63 of the total length. */
const DMA_IOVA_USE_SWIOTLB = 1n << 63n;
const FEATURE_MASK = 0xffff;
const GET = 0x10000;
const SET = 0x20000;
const PROBE = 0x40000;
const DMA_BUF = 11;
/** include/linux/ioport.h */
const IORESOURCE_IO = 0x100n;
const IORESOURCE_MEM = 0x200n;

export interface DmaBufCase {
  featureFlags: number;
  argsz: number;
  regionIndex: number;
  flags: number;
  nrRanges: number;
  /** [offset, length] pairs actually in user memory (fewer than nrRanges: the copy faults). */
  ranges: Array<[bigint, bigint]>;
}

export type DmaBufOutcome = { errno: string; rule: string } | { probe: true } | { size: bigint };

function no(errno: string, rule: string): DmaBufOutcome {
  return { errno, rule };
}

/** What the kernel answers for `c` on a vfio-pci device whose BARs are `bars` (as sysfs `resource` lists them). */
export function expectDmaBuf(c: DmaBufCase, bars: readonly Bar[]): DmaBufOutcome {
  // vfio_ioctl_device_feature (§3.1)
  if (c.argsz < 8) return no('EINVAL', 'argsz < minsz of struct vfio_device_feature');
  if ((c.featureFlags >>> 0) & ~(FEATURE_MASK | GET | SET | PROBE))
    return no('EINVAL', 'flag bits outside mask|GET|SET|PROBE');
  const get = (c.featureFlags & GET) !== 0;
  const set = (c.featureFlags & SET) !== 0;
  const probe = (c.featureFlags & PROBE) !== 0;
  if (get && set && !probe) return no('EINVAL', 'GET and SET without PROBE');
  if ((c.featureFlags & FEATURE_MASK) !== DMA_BUF) throw new RangeError('the table covers the DMA_BUF feature only');
  // vfio_check_feature(flags, argsz - 8, GET, sizeof(struct vfio_device_feature_dma_buf) = 16)
  if (set) return no('EINVAL', 'SET is not supported');
  if (probe) return { probe: true };
  if (!get) return no('EINVAL', 'neither GET nor SET');
  if (c.argsz - 8 < 16) return no('EINVAL', 'payload smaller than struct vfio_device_feature_dma_buf');
  if (c.nrRanges === 0 || c.flags !== 0) return no('EINVAL', 'nr_ranges == 0 or flags != 0');
  if (c.regionIndex >>> 0 >= 6) return no('ENODEV', 'region_index >= VFIO_PCI_ROM_REGION_INDEX');
  const bar = bars.find((b) => b.index === c.regionIndex);
  if (!bar || bar.size === 0n) return no('ENODEV', 'BAR not implemented (vfio_pci_core_get_iomap)');
  // memdup_array_user: kmalloc, then copy_from_user
  if (BigInt(c.nrRanges) * 16n > KMALLOC_MAX) return no('ENOMEM', 'ranges array larger than KMALLOC_MAX_SIZE');
  if (c.nrRanges > c.ranges.length) return no('EFAULT', 'ranges beyond the user buffer');
  const ranges = c.ranges.slice(0, c.nrRanges);
  // validate_dmabuf_input: every range, then the total
  let total = 0n;
  for (const [offset, length] of ranges) {
    if (length === 0n || offset % PAGE !== 0n || length % PAGE !== 0n) return no('EINVAL', 'empty or unaligned range');
    total += length;
    if (total >= U64) return no('EINVAL', 'total length overflows size_t');
  }
  if ((total & DMA_IOVA_USE_SWIOTLB) !== 0n) return no('EINVAL', 'total length has DMA_IOVA_USE_SWIOTLB set');
  // pcim_p2pdma_provider: memory BARs only
  if ((bar.flags & IORESOURCE_IO) !== 0n || (bar.flags & IORESOURCE_MEM) === 0n)
    return no('EINVAL', 'not a memory BAR (no P2P provider)');
  // vfio_pci_core_fill_phys_vec: range by range, overflow before bounds
  const end = bar.start + bar.size;
  for (const [offset, length] of ranges) {
    const paddr = bar.start + offset;
    if (paddr >= U64 || paddr + length >= U64) return no('EOVERFLOW', 'BAR start + offset + length overflows');
    if (paddr + length > end) return no('EINVAL', 'range ends beyond the BAR');
  }
  return { size: total };
}
