// PCI addresses and sizes as users type them (issue 7, item 4). BDFs are
// read by bring-up (src/host/errors.ts requireBdf over src/uapi/bdf.ts, the one users meet in `iovh
// vfs/bind/setup`), the harness (`iovh run --pf/--vf`, src/uapi/bdf.ts normalizeBdf),
// the VFIO wrappers (src/uapi/vfio.ts isBdf, sysfs names only), sysfs link
// targets (src/uapi/drm.ts, capture) and the mock's topology files, all
// through the one grammar of src/uapi/bdf.ts. Random and near-miss strings,
// domains past 0xffff included (Intel VMD), must get the same answer from all
// of them, and none may throw anything but its own one-line error. Sizes: the
// forms of docs/bringup.md against an independent reading of them.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { formatBdf, normalizeBdf, parseBdf } from '../../src/uapi/bdf.js';
import { requireBdf } from '../../src/host/errors.js';
import { InputError } from '../../src/host/errors.js';
import { UsageError } from '../../src/cli/errors.js';
import { reportError } from '../../src/cli/main.js';
import { parseSize, requireSize } from '../../src/host/size.js';
import { isBdf } from '../../src/uapi/vfio.js';
import { BDF_PATTERN } from '../../src/uapi/bdf.js';
import { defaultTopology, MockConfigError, parseTopology } from '../../src/mock/topology.js';

/**
 * Strings that look like BDFs: right shape, wrong digits, case, spaces, short
 * form, domains past 0xffff (up to 32 bits, and one digit too many), domains
 * written with extra or missing zeros, slots and functions out of range.
 */
const bdfLike = fc.oneof(
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 0x1ffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.constant(0x100000000)),
      fc.constantFrom(4, 4, 1, 3, 5, 8, 9),
      fc.integer({ min: 0, max: 0x1ff }),
      fc.integer({ min: 0, max: 0x3f }),
      fc.integer({ min: 0, max: 9 }),
      fc.boolean(),
      fc.boolean(),
      fc.constantFrom('', ' ', '\n'),
    )
    .map(([d, width, b, s, f, short, upper, pad]) => {
      const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
      const text = `${short ? '' : `${hex(d, width)}:`}${hex(b, 2)}:${hex(s, 2)}.${f}`;
      return `${pad}${upper ? text.toUpperCase() : text}${pad}`;
    }),
  fc.stringMatching(/^[0-9a-fA-Fg:. x]{0,16}$/),
  fc.string({ maxLength: 14 }),
);

/** How many lines the CLI prints for the user-input error `f` throws (as the commands do: InputError -> UsageError). */
function cliLines(f: () => unknown): number {
  let message = '';
  try {
    f();
  } catch (e) {
    message = (e as Error).message;
  }
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(reportError(new UsageError(message))).toBe(2);
    const out = spy.mock.calls.map((c) => String(c[0])).join('');
    return out.split('\n').length - 1;
  } finally {
    spy.mockRestore();
  }
}

describe('BDF parsers agree', () => {
  it('normalizeBdf (the harness, the VFIO wrappers), requireBdf (bring-up) and sysfs link readers accept the same addresses and name them the same', () => {
    const exact = new RegExp(`^${BDF_PATTERN}$`);
    fc.assert(
      fc.property(bdfLike, (s) => {
        const host = parseBdf(s);
        const harness = normalizeBdf(s);
        const canonical = host ? formatBdf(host) : null;
        expect(harness, JSON.stringify(s)).toBe(canonical);
        // isBdf, and the pattern links are read with, take only the exact sysfs spelling.
        expect(isBdf(s), JSON.stringify(s)).toBe(canonical !== null && canonical === s);
        expect(exact.test(s), JSON.stringify(s)).toBe(isBdf(s));
        // The canonical name of anything typed is a sysfs name, whatever the domain width.
        if (canonical !== null) expect(isBdf(canonical), canonical).toBe(true);
        if (canonical === null) {
          expect(() => requireBdf(s, 'PF')).toThrow(InputError);
          expect(
            cliLines(() => requireBdf(s, 'PF')),
            JSON.stringify(s),
          ).toBe(1);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a mock topology file takes a device address exactly when the kernel could have named it', () => {
    fc.assert(
      fc.property(bdfLike, (s) => {
        const t = defaultTopology();
        t.devices[0]!.bdf = s;
        let accepted = true;
        try {
          parseTopology(t, 'topology');
        } catch (e) {
          if (!(e instanceof MockConfigError)) throw e;
          expect(e.message).toMatch(/^topology: devices\[0\]\.bdf: /);
          expect(e.message).not.toContain('\n');
          accepted = false;
        }
        expect(accepted, JSON.stringify(s)).toBe(isBdf(s));
      }),
      { numRuns: 600 },
    );
  });
});

/** An independent reading of the size forms docs/bringup.md lists. */
function expectedSize(digits: string, frac: string, unit: string, suffix: string): bigint | null {
  const shift: Record<string, bigint> = { '': 0n, K: 10n, M: 20n, G: 30n, T: 40n, P: 50n };
  if (suffix.toLowerCase() === 'ib' && unit === '') return null;
  const num = BigInt(digits + frac) << shift[unit.toUpperCase()]!;
  const den = 10n ** BigInt(frac.length);
  if (num % den !== 0n) return null;
  const v = num / den;
  return v < 1n << 64n ? v : null;
}

describe('sizes', () => {
  it('number, optional fraction, binary unit with or without iB: the value, or null when not whole bytes or past u64', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9]{1,21}$/),
        fc.oneof(fc.constant(''), fc.stringMatching(/^[0-9]{1,4}$/)),
        fc.constantFrom('', 'K', 'M', 'G', 'T', 'P', 'k', 'm', 'g'),
        fc.constantFrom('', 'B', 'iB', 'ib', 'b'),
        fc.constantFrom('', ' '),
        (digits, frac, unit, suffix, space) => {
          const text = `${digits}${frac ? `.${frac}` : ''}${space}${unit}${suffix}`;
          expect(parseSize(text), text).toBe(expectedSize(digits, frac, unit, suffix));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on any text, and what it reads is a u64', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 24 }), fc.stringMatching(/^[0-9a-fxA-FX.KMGTPEiB -]{0,24}$/)),
        (s) => {
          const v = parseSize(s);
          if (v !== null) expect(v >= 0n && v < 1n << 64n).toBe(true);
          else {
            // One of the three refusals src/host/size.ts words: not a size, a fraction of a byte, beyond u64.
            let thrown: unknown;
            try {
              requireSize(s, '--vram');
            } catch (e) {
              thrown = e;
            }
            expect(thrown).toBeInstanceOf(InputError);
            expect((thrown as Error).message).toMatch(
              /^--vram: '.*' is (not a size \(e\.g\. 4G|not a whole number of bytes \(a size must be|more than 18446744073709551615 bytes)/s,
            );
            expect(
              cliLines(() => requireSize(s, '--vram')),
              JSON.stringify(s),
            ).toBe(1);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
