// A prebuilt kernel for `iovh qemu --kernel`: is it an x86 bzImage, and what
// is its config (the embedded one, CONFIG_IKCONFIG, or a file the user gives).
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { gunzipSync, inflateRawSync } from 'node:zlib';

/**
 * Why `file` is not an x86 boot image, or null. The real-mode header of a
 * bzImage (Documentation/arch/x86/boot.rst): 0xAA55 at 0x1FE, "HdrS" at
 * 0x202, and a protocol version of at least 2.00 at 0x206.
 */
export function bzImageProblem(file: string): string | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`;
  }
  if (!st.isFile()) return `${file} is not a regular file`;
  if (st.size < 0x300) return `${file} is not a bzImage (${st.size} bytes, too small for the x86 boot header)`;
  const head = Buffer.alloc(0x210);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt16LE(0x1fe) !== 0xaa55 || head.toString('latin1', 0x202, 0x206) !== 'HdrS')
    return `${file} is not a bzImage (no x86 boot header: 0xAA55 at 0x1FE and "HdrS" at 0x202)`;
  if (head.readUInt16LE(0x206) < 0x200)
    return `${file} is a zImage from before boot protocol 2.00; QEMU needs a bzImage`;
  return null;
}

const IKCFG_START = Buffer.from('IKCFG_ST');
const IKCFG_END = Buffer.from('IKCFG_ED');

/** The config between IKCFG_ST and IKCFG_ED (gzip: kernel/configs.c), or null. */
function configIn(image: Buffer): string | null {
  const at = image.indexOf(IKCFG_START);
  if (at < 0) return null;
  const end = image.indexOf(IKCFG_END, at);
  if (end < 0) return null;
  try {
    return gunzipSync(image.subarray(at + IKCFG_START.length, end)).toString('utf8');
  } catch {
    return null;
  }
}

/**
 * The config a kernel image carries (CONFIG_IKCONFIG), found the way
 * scripts/extract-ikconfig does: in the image as is, else in each
 * compressed payload it holds (gzip here; xz and zstd through their tools when
 * installed). Null when there is none.
 */
export function embeddedConfig(file: string): string | null {
  const image = readFileSync(file);
  const direct = configIn(image);
  if (direct) return direct;
  const tries: Array<{ magic: Buffer; inflate: (b: Buffer) => Buffer | null }> = [
    {
      magic: Buffer.from([0x1f, 0x8b, 0x08]),
      inflate: gunzipMember,
    },
    { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), inflate: (b) => tool('xz', ['-dc'], b) },
    { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), inflate: (b) => tool('zstd', ['-dcq'], b) },
  ];
  for (const t of tries) {
    let at = image.indexOf(t.magic);
    let attempts = 0;
    while (at >= 0 && attempts++ < 8) {
      const out = t.inflate(image.subarray(at));
      if (out) {
        const c = configIn(out);
        if (c) return c;
      }
      at = image.indexOf(t.magic, at + 1);
    }
  }
  return null;
}

/**
 * The first gzip member of `b` (RFC 1952), ignoring whatever follows it: in a
 * bzImage the compressed kernel is followed by its size and the setup code's
 * data, which zlib's gunzip would take for a broken second member.
 */
function gunzipMember(b: Buffer): Buffer | null {
  if (b.length < 18 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8) return null;
  const flags = b[3]!;
  let at = 10;
  if (flags & 4) at += 2 + b.readUInt16LE(at); // FEXTRA
  if (flags & 8) at = b.indexOf(0, at) + 1; // FNAME
  if (flags & 16) at = b.indexOf(0, at) + 1; // FCOMMENT
  if (flags & 2) at += 2; // FHCRC
  if (at <= 0 || at >= b.length) return null;
  try {
    return inflateRawSync(b.subarray(at));
  } catch {
    return null;
  }
}

/** Run a decompressor over `input`; what it wrote, even when it complains about trailing data. */
function tool(cmd: string, args: string[], input: Buffer): Buffer | null {
  const r = spawnSync(cmd, args, { input, maxBuffer: 512 << 20 });
  if (r.error || !r.stdout || r.stdout.length === 0) return null;
  return r.stdout;
}
