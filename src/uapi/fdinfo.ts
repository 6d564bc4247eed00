// Parser for /proc/<pid>/fdinfo/<fd> (Documentation/filesystems/proc.rst,
// "/proc/<pid>/fdinfo/<fd> - Information about opened file"; fs/proc/fd.c).
//
// Every file has `pos`, `flags` (octal), `mnt_id` and `ino`; the file's own
// show_fdinfo adds lines after them: a dma-buf adds `size`, `count`,
// `exp_name` and `name` when one was set (drivers/dma-buf/dma-buf.c,
// dma_buf_show_fdinfo; docs/kernel.md §10), a vfio device fd adds
// `vfio-device-syspath` (drivers/vfio/vfio_main.c), a DRM fd adds `drm-*`
// keys (Documentation/gpu/drm-usage-stats.rst).

export interface Fdinfo {
  pos: bigint;
  /** open flags (the file's f_flags; printed in octal by the kernel). */
  flags: number;
  mntId: number;
  ino: number;
  /** Every `key:\tvalue` line, in order, values trimmed (including the four above). */
  fields: Map<string, string>;
}

export interface DmaBufFdinfo extends Fdinfo {
  size: bigint;
  /** File references, not counting procfs's own temporary one. */
  count: number;
  expName: string;
  /** null when no name was set (DMA_BUF_SET_NAME). */
  name: string | null;
}

export class FdinfoParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FdinfoParseError';
  }
}

function field(fields: Map<string, string>, key: string, what: string): string {
  const v = fields.get(key);
  if (v === undefined) throw new FdinfoParseError(`${what}: no '${key}' line`);
  return v;
}

function integer(text: string, key: string, radix: 8 | 10): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  if (!re.test(text)) throw new FdinfoParseError(`fdinfo: '${key}' is not a base-${radix} number: '${text}'`);
  return parseInt(text, radix);
}

/** Parse the text of one fdinfo file. Lines without a colon (e.g. eventpoll's `tfd:` records are fine) are ignored. */
export function parseFdinfo(text: string): Fdinfo {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim();
    // Later duplicates (some files repeat keys per record) keep the first, which is the header's.
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  const pos = field(fields, 'pos', 'fdinfo');
  if (!/^\d+$/.test(pos)) throw new FdinfoParseError(`fdinfo: 'pos' is not a number: '${pos}'`);
  return {
    pos: BigInt(pos),
    flags: integer(field(fields, 'flags', 'fdinfo'), 'flags', 8),
    mntId: integer(field(fields, 'mnt_id', 'fdinfo'), 'mnt_id', 10),
    ino: integer(field(fields, 'ino', 'fdinfo'), 'ino', 10),
    fields,
  };
}

/** Parse the fdinfo of a dma-buf fd; throws FdinfoParseError if it is not one. */
export function parseDmaBufFdinfo(text: string): DmaBufFdinfo {
  const base = parseFdinfo(text);
  const f = base.fields;
  const size = field(f, 'size', 'dma-buf fdinfo');
  if (!/^\d+$/.test(size)) throw new FdinfoParseError(`dma-buf fdinfo: 'size' is not a number: '${size}'`);
  const count = field(f, 'count', 'dma-buf fdinfo');
  if (!/^-?\d+$/.test(count)) throw new FdinfoParseError(`dma-buf fdinfo: 'count' is not a number: '${count}'`);
  return {
    ...base,
    size: BigInt(size),
    count: Number(count),
    expName: field(f, 'exp_name', 'dma-buf fdinfo'),
    name: f.get('name') ?? null,
  };
}
