// src/uapi/iovh-ic.ts against core/uapi/iovh_ic.h, the header the module and
// the C core compile: every numeric IOVH_IC_* define of the header has the
// same value in TypeScript, and nothing in TypeScript is missing from it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IcAbiMismatch, IOVH_IC, StandInImporter } from '../../src/uapi/iovh-ic.js';
import { FakeBackend } from './fake-backend.js';

const header = readFileSync(join(import.meta.dirname, '../../core/uapi/iovh_ic.h'), 'utf8');
const moduleSource = readFileSync(join(import.meta.dirname, '../../kernel/iovh-ic-importer/main.c'), 'utf8');

/** `#define IOVH_IC_NAME value` with a plain or shifted integer value. */
function defines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^#define IOVH_IC_(\w+)\s+(.+?)\s*(?:\/\*.*)?$/gm)) {
    const [, name, value] = m as unknown as [string, string, string];
    const v = value.trim();
    let n: number | null = null;
    const shift = /^\(1u << (\d+)\)$/.exec(v);
    if (/^(0x[0-9a-f]+|\d+)$/i.test(v)) n = Number(v);
    else if (shift) n = 1 << Number(shift[1]);
    else if (/^\(1u << 20\)$/.test(v)) n = 1 << 20;
    if (n !== null) out.set(name!, n);
  }
  return out;
}

describe('iovh_ic uAPI', () => {
  it('the TypeScript constants are the header values', () => {
    const h = defines(header);
    expect(h.size).toBeGreaterThan(15);
    for (const [name, value] of h) {
      if (name === 'IOCTL_TYPE') continue;
      expect(IOVH_IC[name as keyof typeof IOVH_IC], `IOVH_IC_${name}`).toBe(value);
    }
    for (const name of Object.keys(IOVH_IC)) {
      if (name === 'DEVICE' || name === 'IMPORT_XE' || name === 'IMPORT_FLAGS') continue;
      if (name === 'INFO_MAX') continue; // the module's own limit, below
      expect(h.has(name), `IOVH_IC_${name} in the header`).toBe(true);
    }
    expect(defines(moduleSource).get('INFO_MAX'), 'IOVH_IC_INFO_MAX in main.c').toBe(IOVH_IC.INFO_MAX);
    expect(IOVH_IC.IMPORT_XE).toBe(IOVH_IC.IMPORT_OFFER_IOV | IOVH_IC.IMPORT_P2P | IOVH_IC.IMPORT_REVOCABLE);
    expect(header).toContain(`#define IOVH_IC_DEVICE "${IOVH_IC.DEVICE}"`);
  });
});

describe('StandInImporter.open', () => {
  const module = (abi: number) =>
    new FakeBackend(
      { icVersion: () => ({ abi, api: IOVH_IC.API_RFC_V2, keep: IOVH_IC.KEEP_UNMAP, xlate: 0 }) },
      { files: { [IOVH_IC.DEVICE]: '' } },
    );

  it('opens a module of this ABI version', () => {
    const b = module(IOVH_IC.ABI_VERSION);
    const ic = StandInImporter.open(b);
    expect(ic.api).toBe('rfc-v2');
    ic.close();
    expect(b.open.size).toBe(0);
  });

  it('refuses a module built from another revision of the header, and closes the device', () => {
    const b = module(IOVH_IC.ABI_VERSION + 1);
    expect(() => StandInImporter.open(b)).toThrow(
      `/dev/iovh-ic speaks ABI ${IOVH_IC.ABI_VERSION + 1} of core/uapi/iovh_ic.h, this iovh ABI ${IOVH_IC.ABI_VERSION}: rebuild kernel/iovh-ic-importer`,
    );
    // its own class, so that a scenario can skip on it (src/harness/standin.ts)
    expect(() => StandInImporter.open(b)).toThrow(IcAbiMismatch);
    expect(b.open.size).toBe(0);
  });
});

describe('IcImport.info', () => {
  it('asks for no more room than the module fills (main.c iovh_ic_info copies at most IOVH_IC_INFO_MAX)', () => {
    const rooms: number[] = [];
    const b = new FakeBackend(
      {
        icVersion: () => ({ abi: IOVH_IC.ABI_VERSION, api: IOVH_IC.API_RFC_V2, keep: IOVH_IC.KEEP_UNMAP, xlate: 0 }),
        icImport: () => ({ handle: 1, negotiated: true, size: 8192n }),
        icInfo: (_fd, _handle, room) => {
          rooms.push(room ?? -1);
          return {
            state: 0,
            path: 0,
            nrRanges: 0,
            ranges: new BigUint64Array(0),
            size: 8192n,
            maps: 0,
            invalidations: 0,
            leaked: 0,
          };
        },
      },
      { files: { [IOVH_IC.DEVICE]: '' } },
    );
    const ic = StandInImporter.open(b);
    const imp = ic.import(3, { importer: '0000:03:00.0' });
    imp.info();
    imp.info(IOVH_IC.INFO_MAX);
    imp.info(IOVH_IC.INFO_MAX + 1);
    imp.info(0xffffffff);
    expect(rooms).toEqual([64, IOVH_IC.INFO_MAX, IOVH_IC.INFO_MAX, IOVH_IC.INFO_MAX]);
    ic.close();
  });
});
