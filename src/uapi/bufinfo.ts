// Parser for debugfs /sys/kernel/debug/dma_buf/bufinfo (drivers/dma-buf/dma-buf.c,
// dma_buf_debug_show; docs/kernel.md §10):
//
//   Dma-buf Objects:
//   size    \tflags   \tmode    \tcount   \texp_name\tino     \tname
//   00004096\t00000002\t00080007\t00000002\tvfio_pci_core\t00012345\t<none>
//   \t<usage> fence: <driver> <timeline> seq <n> [un]signalled     (dma_resv_describe)
//   \tAttached Devices:
//   \t0000:03:00.0
//   Total 1 devices attached
//
//   Total 1 objects, 4096 bytes
//
// Size is decimal, flags and mode hex, count and ino decimal. Older kernels
// print an empty name instead of `<none>`; both parse to null.

export interface BufinfoObject {
  size: bigint;
  /** file f_flags: only O_ACCMODE | O_NONBLOCK survive (O_RDWR shows 2). */
  flags: number;
  /** file f_mode. */
  mode: number;
  /** file references. */
  count: number;
  expName: string;
  ino: number;
  name: string | null;
  /** The dma_resv lines, verbatim without the leading tab. */
  fences: string[];
  /** dev_name() of each attached device, e.g. the importing PF's BDF. */
  attached: string[];
}

export interface Bufinfo {
  objects: BufinfoObject[];
  /** From the closing `Total N objects, M bytes` line; null if the file was cut short. */
  totalObjects: number | null;
  totalBytes: bigint | null;
}

export class BufinfoParseError extends Error {
  constructor(line: number, message: string) {
    super(`bufinfo line ${line}: ${message}`);
    this.name = 'BufinfoParseError';
  }
}

const OBJECT = /^(\d+)\t([0-9a-fA-F]+)\t([0-9a-fA-F]+)\t(-?\d+)\t([^\t]*)\t(\d+)(?:\t(.*))?$/;
const TOTAL = /^Total (\d+) objects, (\d+) bytes$/;
const DEVICES_TOTAL = /^Total (\d+) devices attached$/;

export function parseBufinfo(text: string): Bufinfo {
  const out: Bufinfo = { objects: [], totalObjects: null, totalBytes: null };
  let current: BufinfoObject | null = null;
  let inDevices = false;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line === 'Dma-buf Objects:' || /^size\s+\tflags/.test(line)) return;
    const obj = OBJECT.exec(line);
    if (obj) {
      const name = obj[7] ?? '';
      current = {
        size: BigInt(obj[1]!),
        flags: parseInt(obj[2]!, 16),
        mode: parseInt(obj[3]!, 16),
        count: Number(obj[4]),
        expName: obj[5]!,
        ino: Number(obj[6]),
        name: name === '' || name === '<none>' ? null : name,
        fences: [],
        attached: [],
      };
      out.objects.push(current);
      inDevices = false;
      return;
    }
    const total = TOTAL.exec(line);
    if (total) {
      out.totalObjects = Number(total[1]);
      out.totalBytes = BigInt(total[2]!);
      current = null;
      return;
    }
    const devTotal = DEVICES_TOTAL.exec(line);
    if (devTotal) {
      const obj2 = current as BufinfoObject | null;
      if (!obj2) throw new BufinfoParseError(n, 'device count outside an object');
      if (Number(devTotal[1]) !== obj2.attached.length) {
        throw new BufinfoParseError(n, `says ${devTotal[1]} devices attached, listed ${obj2.attached.length}`);
      }
      inDevices = false;
      return;
    }
    if (line.startsWith('\t')) {
      const obj2 = current as BufinfoObject | null;
      if (!obj2) throw new BufinfoParseError(n, `indented line outside an object: '${line.trim()}'`);
      const body = line.slice(1);
      if (body === 'Attached Devices:') inDevices = true;
      else if (inDevices) obj2.attached.push(body.trim());
      else obj2.fences.push(body);
      return;
    }
    throw new BufinfoParseError(n, `unexpected line '${line}'`);
  });
  return out;
}
