// The VFIO_DEVICE_FEATURE DMA_BUF requests the kernel must refuse, and the
// errno of each, in the kernel's order of checks (docs/kernel.md §3.1, §3.3:
// drivers/vfio/vfio_main.c vfio_ioctl_device_feature, include/linux/vfio.h
// vfio_check_feature, drivers/vfio/pci/vfio_pci_dmabuf.c
// vfio_pci_core_feature_dma_buf, validate_dmabuf_input,
// vfio_pci_core_fill_phys_vec). One table for everything that sends them:
// the catalog's export/invalid-args, the property test that checks it against
// its own statement of the rules (test/property/dmabuf-ranges.test.ts), and
// the QEMU guest's errno.* steps (test/qemu/guest/scenarios.mjs), whose ids
// are `errno.<id>`.

import { VFIO } from './constants.js';
import type { ErrnoName } from './errors.js';
import type { ExportDmaBufOptions, VfioDevice } from './vfio.js';

const PAGE = 4096n;
const U64_MAX = (1n << 64n) - 1n;
/** GET of the DMA_BUF feature: the only access it allows (docs/kernel.md §3.2). */
const DMA_BUF_GET = VFIO.DEVICE_FEATURE_GET | VFIO.FEATURE_DMA_BUF;
/** A zeroed struct vfio_device_feature_dma_buf with one range: what a raw feature request carries. */
const PAYLOAD_BYTES = 24;

/** The BAR a request is aimed at: the first memory BAR the device has, or its unimplemented one. */
export interface BadExportBar {
  index: number;
  size: bigint;
}

/**
 * A raw VFIO_DEVICE_FEATURE call (`feature`: flags, a zeroed payload of
 * `payload` bytes, argsz when not 8 + payload) or a DMA_BUF export with raw
 * overrides (`export`, ExportDmaBufOptions).
 */
export type BadExportRequest =
  | { kind: 'feature'; flags: number; payload: number; argsz?: number }
  | ({ kind: 'export' } & ExportDmaBufOptions);

export interface BadExport {
  /** Stable id; the QEMU guest's step is `errno.<id>` (its recorded results key on it). */
  readonly id: string;
  /** The request, in a few words. */
  readonly title: string;
  readonly errno: ErrnoName;
  /** The check that refuses it: the kernel function and condition (docs/kernel.md section). */
  readonly rule: string;
  /** What the request is aimed at: the device alone, a memory BAR, or a BAR the device does not implement (size 0). */
  readonly needs: 'device' | 'bar' | 'emptyBar';
  request(bar: BadExportBar): BadExportRequest;
}

const one = [{ offset: 0n, length: PAGE }];
const feature = (flags: number, payload = PAYLOAD_BYTES, argsz?: number): BadExportRequest => ({
  kind: 'feature',
  flags,
  payload,
  ...(argsz === undefined ? {} : { argsz }),
});
const exportOf = (o: ExportDmaBufOptions): BadExportRequest => ({ kind: 'export', ...o });

export const BAD_EXPORTS: readonly BadExport[] = [
  {
    id: 'argsz-below-header',
    title: 'argsz 4 (< 8)',
    errno: 'EINVAL',
    rule: 'vfio_ioctl_device_feature: argsz below the header, struct vfio_device_feature (docs/kernel.md §3.1)',
    needs: 'device',
    request: () => feature(DMA_BUF_GET, PAYLOAD_BYTES, 4),
  },
  {
    id: 'unknown-flag',
    title: 'unknown flag bit 20',
    errno: 'EINVAL',
    rule: 'vfio_ioctl_device_feature: flag bits outside mask|GET|SET|PROBE (docs/kernel.md §3.1)',
    needs: 'device',
    request: () => feature((1 << 20) | DMA_BUF_GET),
  },
  {
    id: 'get-and-set',
    title: 'GET and SET without PROBE',
    errno: 'EINVAL',
    rule: 'vfio_ioctl_device_feature: GET and SET together without PROBE (docs/kernel.md §3.1)',
    needs: 'device',
    request: () => feature(VFIO.DEVICE_FEATURE_SET | DMA_BUF_GET),
  },
  {
    id: 'unknown-feature',
    title: 'feature index 0x3ff',
    errno: 'ENOTTY',
    rule: 'vfio_pci_core_ioctl_feature: a feature index no one implements (docs/kernel.md §3.1)',
    needs: 'device',
    request: () => feature(VFIO.DEVICE_FEATURE_GET | 0x3ff),
  },
  {
    id: 'set',
    title: 'SET DMA_BUF (only GET is supported)',
    errno: 'EINVAL',
    rule: 'vfio_check_feature: DMA_BUF allows GET only, SET is refused (docs/kernel.md §3.3)',
    needs: 'device',
    request: () => feature(VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_DMA_BUF),
  },
  {
    id: 'probe-set',
    title: 'PROBE|SET DMA_BUF',
    errno: 'EINVAL',
    rule: 'vfio_check_feature: PROBE of an access the feature lacks (SET) (docs/kernel.md §3.2)',
    needs: 'device',
    request: () => feature(VFIO.DEVICE_FEATURE_PROBE | VFIO.DEVICE_FEATURE_SET | VFIO.FEATURE_DMA_BUF, 0),
  },
  {
    id: 'no-access',
    title: 'DMA_BUF without GET, SET or PROBE',
    errno: 'EINVAL',
    rule: 'vfio_check_feature: without PROBE one of GET or SET is required (docs/kernel.md §3.1)',
    needs: 'device',
    request: () => feature(VFIO.FEATURE_DMA_BUF),
  },
  {
    id: 'payload-short',
    title: 'payload of 8 bytes (< 16)',
    errno: 'EINVAL',
    rule: 'vfio_check_feature: payload (argsz - 8) below struct vfio_device_feature_dma_buf (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: one, argsz: 16 }),
  },
  {
    id: 'nr-ranges-zero',
    title: 'nr_ranges 0',
    errno: 'EINVAL',
    rule: 'vfio_pci_core_feature_dma_buf: nr_ranges == 0 (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: one, nrRanges: 0 }),
  },
  {
    id: 'flags-nonzero',
    title: 'dma_buf flags 1',
    errno: 'EINVAL',
    rule: 'vfio_pci_core_feature_dma_buf: flags != 0 (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: one, flags: 1 }),
  },
  {
    id: 'region-rom',
    title: 'region 6 (ROM)',
    errno: 'ENODEV',
    rule: 'vfio_pci_core_feature_dma_buf: region_index >= VFIO_PCI_ROM_REGION_INDEX (docs/kernel.md §3.3)',
    needs: 'device',
    request: () => exportOf({ region: VFIO.PCI_ROM_REGION_INDEX, ranges: one }),
  },
  {
    id: 'region-config',
    title: 'region 7 (config space)',
    errno: 'ENODEV',
    rule: 'vfio_pci_core_feature_dma_buf: region_index >= VFIO_PCI_ROM_REGION_INDEX (docs/kernel.md §3.3)',
    needs: 'device',
    request: () => exportOf({ region: VFIO.PCI_CONFIG_REGION_INDEX, ranges: one }),
  },
  {
    id: 'nr-ranges-huge',
    title: 'nr_ranges 2^28 (4 GiB of ranges: kmalloc refuses)',
    errno: 'ENOMEM',
    rule: 'memdup_array_user: nr_ranges * 16 above KMALLOC_MAX_SIZE (4 MiB), before any range is read (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: one, nrRanges: 1 << 28 }),
  },
  {
    id: 'length-zero',
    title: 'range length 0',
    errno: 'EINVAL',
    rule: 'validate_dmabuf_input: a range of length 0 (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: 0n, length: 0n }] }),
  },
  {
    id: 'offset-unaligned',
    title: 'offset 0x800',
    errno: 'EINVAL',
    rule: 'validate_dmabuf_input: offset not PAGE_SIZE aligned (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: 0x800n, length: PAGE }] }),
  },
  {
    id: 'length-unaligned',
    title: 'length 0x800',
    errno: 'EINVAL',
    rule: 'validate_dmabuf_input: length not PAGE_SIZE aligned (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: 0n, length: 0x800n }] }),
  },
  {
    id: 'length-sum-overflow',
    title: 'two ranges of 2^63 bytes (sum overflows)',
    errno: 'EINVAL',
    rule: 'validate_dmabuf_input: the sum of lengths overflows size_t (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) =>
      exportOf({
        region: bar.index,
        ranges: [
          { offset: 0n, length: 1n << 63n },
          { offset: 0n, length: 1n << 63n },
        ],
      }),
  },
  {
    id: 'length-bit63',
    title: 'one range of 2^63 bytes (DMA_IOVA_USE_SWIOTLB bit)',
    errno: 'EINVAL',
    rule: 'validate_dmabuf_input: total length with DMA_IOVA_USE_SWIOTLB (bit 63) set (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: 0n, length: 1n << 63n }] }),
  },
  {
    id: 'bar-empty',
    title: 'a BAR of size 0',
    errno: 'ENODEV',
    rule: 'vfio_pci_core_get_iomap: a BAR the device does not implement is not claimed (docs/kernel.md §3.3)',
    needs: 'emptyBar',
    request: (bar) => exportOf({ region: bar.index, ranges: one }),
  },
  {
    id: 'offset-overflow',
    title: 'offset 2^64 - 4096 (BAR start + offset overflows)',
    errno: 'EOVERFLOW',
    rule: 'vfio_pci_core_fill_phys_vec: BAR start + offset overflows (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: U64_MAX - PAGE + 1n, length: PAGE }] }),
  },
  {
    id: 'past-end',
    title: 'range ending one page past the BAR',
    errno: 'EINVAL',
    rule: 'vfio_pci_core_fill_phys_vec: a range ending past the BAR (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) => exportOf({ region: bar.index, ranges: [{ offset: 0n, length: bar.size + PAGE }] }),
  },
  {
    id: 'second-range-past-end',
    title: 'second range past the BAR',
    errno: 'EINVAL',
    rule: 'vfio_pci_core_fill_phys_vec: every range is checked against the BAR, not only the first (docs/kernel.md §3.3)',
    needs: 'bar',
    request: (bar) =>
      exportOf({
        region: bar.index,
        ranges: [
          { offset: 0n, length: PAGE },
          { offset: bar.size, length: PAGE },
        ],
      }),
  },
];

/**
 * Send one request on `device`. What a kernel wrongly accepts comes back (a
 * DmaBuf to close, or the feature ioctl's return); a refusal throws the
 * kernel's SystemError.
 */
export function sendBadExport(device: VfioDevice, request: BadExportRequest): unknown {
  if (request.kind === 'feature')
    return device.feature(
      request.flags,
      request.payload > 0 ? new Uint8Array(request.payload) : undefined,
      request.argsz,
    );
  const { kind: _kind, ...options } = request;
  return device.exportDmaBuf(options);
}
