import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpioNewc, readNewc, type CpioEntry } from '../../scripts/qemu-ci/cpio.mjs';

describe('cpioNewc', () => {
  it('writes the newc layout byte for byte (buffer-format.rst)', () => {
    const buf = cpioNewc([{ type: 'file', path: '/init', data: Buffer.from('hi'), mode: 0o755 }]);
    const header =
      '070701' +
      '00000001' +
      '000081ed' +
      '00000000' +
      '00000000' +
      '00000001' +
      '00000000' +
      '00000002' +
      '00000000' +
      '00000000' +
      '00000000' +
      '00000000' +
      '00000005' +
      '00000000';
    // 110-byte header + "init\0" = 115, padded to 116; data "hi" padded to 4.
    expect(buf.subarray(0, 110).toString('ascii')).toBe(header);
    expect(buf.subarray(110, 116).toString('latin1')).toBe('init\0\0');
    expect(buf.subarray(116, 120).toString('latin1')).toBe('hi\0\0');
    expect(buf.subarray(120, 126).toString('ascii')).toBe('070701');
    expect(buf.toString('latin1')).toContain('TRAILER!!!\0');
    expect(buf.length % 4).toBe(0);
  });

  it('writes directories, symlinks and device nodes with their modes', () => {
    const entries = readNewc(
      cpioNewc([
        { type: 'dir', path: 'dev' },
        { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
        { type: 'symlink', path: 'sbin', target: 'bin' },
      ]),
    );
    expect(entries.map((e) => [e.name, e.mode.toString(8)])).toEqual([
      ['dev', '40755'],
      ['dev/console', '20600'],
      ['sbin', '120777'],
    ]);
    expect([entries[1]!.rdevmajor, entries[1]!.rdevminor]).toEqual([5, 1]);
    expect(entries[2]!.data.toString()).toBe('bin');
  });

  it('refuses duplicate and empty paths', () => {
    expect(() =>
      cpioNewc([
        { type: 'dir', path: 'a' },
        { type: 'dir', path: '/a' },
      ]),
    ).toThrow(/duplicate/);
    expect(() => cpioNewc([{ type: 'dir', path: '/' }])).toThrow(/bad cpio path/);
  });

  it('round-trips any set of files', () => {
    const name = fc.stringMatching(/^[a-z0-9_.-]{1,20}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(name, fc.uint8Array({ maxLength: 64 })), { selector: (t) => t[0], maxLength: 12 }),
        (files) => {
          const entries: CpioEntry[] = files.map(([p, data]) => ({ type: 'file', path: p, data }));
          const back = readNewc(cpioNewc(entries));
          expect(back.map((e) => e.name)).toEqual(files.map(([p]) => p));
          back.forEach((e, i) => expect(new Uint8Array(e.data)).toEqual(files[i]![1]));
        },
      ),
    );
  });

  it('is deterministic: the same inputs give the same bytes', () => {
    const entries: CpioEntry[] = [{ type: 'file', path: 'x', data: Buffer.from('same') }];
    expect(cpioNewc(entries).equals(cpioNewc(entries))).toBe(true);
  });
});
