// The kernel's string-to-number parsers that sysfs and debugfs stores use
// (lib/kstrtox.c), with their errno: EINVAL for anything but one number with an
// optional single trailing newline, ERANGE when it does not fit the type.

import { fail } from './errno.js';

function parseUnsigned(s: string, base0: boolean): bigint {
  let t = s.endsWith('\n') ? s.slice(0, -1) : s;
  if (t.startsWith('+')) t = t.slice(1);
  let digits: string;
  let radix: number;
  if (base0 && /^0[xX]/.test(t)) {
    digits = t.slice(2);
    radix = 16;
  } else if (base0 && t.length > 1 && t.startsWith('0')) {
    digits = t.slice(1);
    radix = 8;
  } else {
    digits = t;
    radix = 10;
  }
  const valid = radix === 16 ? /^[0-9a-fA-F]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) fail('EINVAL', `not a number: '${s.trimEnd()}'`);
  let v = 0n;
  const r = BigInt(radix);
  for (const ch of digits) {
    v = v * r + BigInt(parseInt(ch, radix));
    if (v > 0xffffffffffffffffn) fail('ERANGE', `out of range: '${s.trimEnd()}'`);
  }
  return v;
}

/** kstrtoull(s, 0): decimal, 0x hex or 0 octal. */
export function kstrtoull(s: string, base0 = true): bigint {
  return parseUnsigned(s, base0);
}

export function kstrtouint(s: string, bits: 8 | 16 | 32 | 64 = 32, base0 = true): number {
  const v = parseUnsigned(s, base0);
  if (v > (1n << BigInt(bits)) - 1n) fail('ERANGE', `out of range for u${bits}: '${s.trimEnd()}'`);
  return Number(v);
}

/** kstrtoll(s, 0) */
export function kstrtoll(s: string): bigint {
  const t = s.endsWith('\n') ? s.slice(0, -1) : s;
  if (t.startsWith('-')) {
    const v = parseUnsigned(t.slice(1), true);
    if (v > 1n << 63n) fail('ERANGE');
    return -v;
  }
  const v = parseUnsigned(t, true);
  if (v > (1n << 63n) - 1n) fail('ERANGE');
  return v;
}

/** kstrtobool (lib/kstrtox.c): looks only at the first one or two characters; e/d (enable, disable) too. */
export function kstrtobool(s: string): boolean {
  const c0 = s[0];
  switch (c0) {
    case 'e':
    case 'E':
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case '1':
      return true;
    case 'd':
    case 'D':
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case '0':
      return false;
    case 'o':
    case 'O': {
      const c1 = s[1];
      if (c1 === 'n' || c1 === 'N') return true;
      if (c1 === 'f' || c1 === 'F') return false;
      break;
    }
  }
  return fail('EINVAL', `not a boolean: '${s.trimEnd()}'`);
}

/** sysfs_streq: equal ignoring one trailing newline on either side. */
export function sysfsStreq(a: string, b: string): boolean {
  const strip = (x: string) => (x.endsWith('\n') ? x.slice(0, -1) : x);
  return strip(a) === strip(b);
}
