// Byte sizes as people type them for VRAM quotas: `4G`, `512MiB`, `1.5G`,
// `0x20000000`, `1073741824`. Suffixes are binary whether or not they carry
// the `i`, as the kernel's own memparse() reads them (lib/cmdline.c): a GPU
// quota is never meant in powers of ten. Results are bigint: quotas are u64.
import { clip } from './quote.js';
import { InputError } from './errors.js';

const UNITS: Record<string, bigint> = {
  '': 1n,
  B: 1n,
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
};

const U64_MAX = (1n << 64n) - 1n;
const DECIMAL = /^(\d+)(?:\.(\d+))?\s*([KMGTP]?)(i?B)?$/i;
const HEX = /^0x([0-9a-f]+)$/i;

/** Parses a size; null when the text is not one (or is not a whole number of bytes, or exceeds u64). */
export function parseSize(text: string): bigint | null {
  const r = readSize(text);
  return typeof r === 'bigint' ? r : null;
}

/** A size, or why the text is not one: 'form' (not written as a size), 'fraction', 'u64'. */
function readSize(text: string): bigint | 'form' | 'fraction' | 'u64' {
  const t = text.trim();
  let value: bigint;
  const hex = HEX.exec(t);
  if (hex) {
    value = BigInt(`0x${hex[1]}`);
  } else {
    const m = DECIMAL.exec(t);
    if (!m) return 'form';
    const unitLetter = m[3]!.toUpperCase();
    // `iB` needs a unit letter before it: `5iB` is not a size.
    if (m[4] && m[4].length === 2 && unitLetter === '') return 'form';
    const unit = UNITS[unitLetter]!;
    const frac = m[2] ?? '';
    const scale = 10n ** BigInt(frac.length);
    const scaled = BigInt(m[1]! + frac) * unit;
    if (scaled % scale !== 0n) return 'fraction';
    value = scaled / scale;
  }
  if (value > U64_MAX) return 'u64';
  return value;
}

/** parseSize, or an InputError naming the option, what is wrong, and the accepted forms. */
export function requireSize(text: string, what: string): bigint {
  const v = readSize(text);
  if (typeof v === 'bigint') return v;
  const shown = `'${clip(text)}'`;
  if (v === 'fraction')
    throw new InputError(
      `${what}: ${shown} is not a whole number of bytes (a size must be; e.g. 1.5G is, 1.001G is not)`,
    );
  if (v === 'u64')
    throw new InputError(`${what}: ${shown} is more than 18446744073709551615 bytes (2^64 - 1, the largest quota)`);
  throw new InputError(`${what}: ${shown} is not a size (e.g. 4G, 512MiB, 1.5G, 0x20000000, 1073741824)`);
}

/** `2 GiB`, `1536 MiB`, `4 KiB`, `123 B`: the largest binary unit that divides the size exactly. */
export function formatSize(bytes: bigint): string {
  const names: [string, bigint][] = [
    ['PiB', 1n << 50n],
    ['TiB', 1n << 40n],
    ['GiB', 1n << 30n],
    ['MiB', 1n << 20n],
    ['KiB', 1n << 10n],
  ];
  if (bytes === 0n) return '0 B';
  for (const [name, unit] of names) if (bytes % unit === 0n) return `${bytes / unit} ${name}`;
  return `${bytes} B`;
}
