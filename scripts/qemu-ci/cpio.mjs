// @ts-check
// A cpio archive in the "newc" format the kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte
// ASCII header of thirteen 8-digit hex fields, the NUL-terminated name padded
// to 4 bytes, the data padded to 4 bytes, and a final "TRAILER!!!" entry.
// Written here so the host needs no cpio tool; timestamps are 0 so the same
// inputs give the same bytes.

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * @typedef {{ type: 'dir', path: string, mode?: number }
 *   | { type: 'file', path: string, data: Uint8Array, mode?: number }
 *   | { type: 'symlink', path: string, target: string }
 *   | { type: 'chardev', path: string, major: number, minor: number, mode?: number }} CpioEntry
 */

const hex8 = (/** @type {number} */ n) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
};
const pad4 = (/** @type {number} */ n) => (4 - (n % 4)) % 4;

/**
 * @param {CpioEntry[]} entries  parents before children; paths without a leading slash
 * @returns {Buffer}
 */
export function cpioNewc(entries) {
  /** @type {Buffer[]} */
  const parts = [];
  let ino = 1;
  const push = (
    /** @type {string} */ name,
    /** @type {number} */ mode,
    /** @type {Uint8Array} */ data,
    rdev = [0, 0],
    nlink = 1,
  ) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const header =
      '070701' +
      hex8(name === 'TRAILER!!!' ? 0 : ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(0) + // mtime
      hex8(data.byteLength) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(rdev[0]) +
      hex8(rdev[1]) +
      hex8(nameBytes.byteLength) +
      hex8(0); // check
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.byteLength)));
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.byteLength)));
  };
  const seen = new Set();
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    if (!path || path.includes('\0')) throw new RangeError(`bad cpio path '${e.path}'`);
    if (seen.has(path)) throw new RangeError(`duplicate cpio path '${path}'`);
    seen.add(path);
    switch (e.type) {
      case 'dir':
        push(path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), [0, 0], 2);
        break;
      case 'file':
        push(path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case 'symlink':
        push(path, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'));
        break;
      case 'chardev':
        push(path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]);
        break;
    }
  }
  push('TRAILER!!!', 0, new Uint8Array(0));
  return Buffer.concat(parts);
}

/**
 * Entries of a newc archive (for tests and for checking what was built).
 * @param {Uint8Array} buf
 * @returns {{ name: string, mode: number, data: Buffer, rdevmajor: number, rdevminor: number }[]}
 */
export function readNewc(buf) {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = [];
  let off = 0;
  for (;;) {
    if (off + 110 > b.length) throw new RangeError(`cpio truncated at ${off}`);
    const magic = b.toString('ascii', off, off + 6);
    if (magic !== '070701') throw new RangeError(`bad cpio magic '${magic}' at ${off}`);
    const field = (/** @type {number} */ i) => parseInt(b.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const rdevmajor = field(9);
    const rdevminor = field(10);
    const namesize = field(11);
    const name = b.toString('utf8', off + 110, off + 110 + namesize - 1);
    off += 110 + namesize;
    off += pad4(110 + namesize);
    const data = b.subarray(off, off + size);
    off += size + pad4(size);
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, data, rdevmajor, rdevminor });
  }
}
