import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatBdf, normalizeBdf, parseBdf, vfAddress } from '../../src/uapi/bdf.js';
import { InputError, requireBdf } from '../../src/host/errors.js';

describe('BDF parsing', () => {
  it('accepts the full and the short form, in any case, and normalizes to the sysfs name', () => {
    expect(normalizeBdf('0000:03:00.0')).toBe('0000:03:00.0');
    expect(normalizeBdf('03:00.1')).toBe('0000:03:00.1');
    expect(normalizeBdf('0000:AF:1F.7')).toBe('0000:af:1f.7');
    expect(normalizeBdf(' 10000:01:02.3 ')).toBe('10000:01:02.3');
  });

  it('rejects what is not a PCI address with a one-line InputError naming the forms', () => {
    for (const bad of [
      '',
      '3:00.0',
      '0000:03:00',
      '0000:03:00.8',
      '0000:03:20.0',
      'zz:00.0',
      '0000:03:00.0.1',
      '000:03:00.0',
    ]) {
      expect(() => requireBdf(bad, 'PF'), bad).toThrow(InputError);
    }
    expect(() => requireBdf('0000:03:20.0', 'PF')).toThrow(
      /not a PCI address for the PF \(expected DDDD:BB:DD.F or BB:DD.F/,
    );
  });

  it('round-trips every address', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        (domain, bus, slot, fn) => {
          const a = { domain, bus, slot, fn };
          const text = formatBdf(a);
          expect(text).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
          expect(parseBdf(text)).toEqual(a);
          expect(parseBdf(text.toUpperCase())).toEqual(a);
          if (domain === 0) expect(parseBdf(text.slice(5))).toEqual(a);
        },
      ),
    );
  });

  it('never accepts a string that does not round-trip to itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 16 }), (s) => {
        const a = parseBdf(s);
        if (a === null) return;
        const canon = formatBdf(a);
        expect(parseBdf(canon)).toEqual(a);
        expect(canon.endsWith(s.trim().toLowerCase().slice(-7))).toBe(true);
      }),
    );
  });

  it('places VFs by First VF Offset and VF Stride, carrying into the next bus (drivers/pci/iov.c)', () => {
    const pf = parseBdf('0000:03:00.0')!;
    expect(formatBdf(vfAddress(pf, 1, 1, 1)!)).toBe('0000:03:00.1');
    expect(formatBdf(vfAddress(pf, 1, 1, 8)!)).toBe('0000:03:01.0');
    // igb in QEMU: offset 0x80, stride 2 (research/qemu-ci.md: VF 0000:01:10.0)
    expect(formatBdf(vfAddress(parseBdf('0000:01:00.0')!, 0x80, 2, 1)!)).toBe('0000:01:10.0');
    expect(formatBdf(vfAddress(parseBdf('0000:01:00.0')!, 0x80, 2, 2)!)).toBe('0000:01:10.2');
    // 255 past devfn 0 on bus 3 is devfn 255 of bus 3; one more is bus 4 (RFC quirk 5)
    expect(formatBdf(vfAddress(pf, 255, 1, 2)!)).toBe('0000:04:00.0');
    expect(vfAddress(parseBdf('0000:ff:1f.7')!, 1, 1, 1)).toBeNull();
  });
});
