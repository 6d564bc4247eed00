// The declared state `iovh setup PLAN.json` brings about (schema
// iovh-setup/1, documented in docs/bringup.md). Validation names the file
// and the field in one line, and rejects unknown fields so that a typo is an
// error instead of a silently ignored wish.
import { InputError, requireBdf } from './errors.js';
import type { SetupPf, SetupSpec, SetupVf } from './planner.js';
import { parseSize } from './size.js';
import { isDriverName } from '../machine/sysfs.js';
import { parseUserJson, UserFileError } from '../userfile.js';

export const SETUP_SCHEMA = 'iovh-setup/1';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: Json | undefined): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

class Fields {
  constructor(
    readonly file: string,
    readonly at: string,
    readonly obj: { [k: string]: Json },
  ) {}

  fail(field: string, message: string): never {
    throw new InputError(`${this.file}: ${this.at}${this.at && field ? '.' : ''}${field}: ${message}`);
  }

  only(allowed: string[]): void {
    for (const k of Object.keys(this.obj)) {
      if (!allowed.includes(k)) this.fail(k, `unknown field (expected ${allowed.join(', ')})`);
    }
  }

  wholeNumber(field: string, min: number, required: boolean): number | undefined {
    const v = this.obj[field];
    if (v === undefined) {
      if (required) this.fail(field, 'is required');
      return undefined;
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      this.fail(field, `expected a whole number >= ${min}, got ${show(v)}`);
    return v;
  }
}

/** Parses and validates the text of a setup file; `file` is how messages name it. */
export function parseSetup(file: string, text: string): SetupSpec {
  let doc: Json;
  try {
    doc = parseUserJson(text) as Json;
  } catch (e) {
    if (e instanceof UserFileError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  if (!isObject(doc))
    throw new InputError(`${file}: expected a JSON object with "schema": "${SETUP_SCHEMA}" and "pfs"`);
  const top: Fields = new Fields(file, '', doc);
  top.only(['schema', 'pfs']);
  if (doc.schema !== SETUP_SCHEMA) top.fail('schema', `expected "${SETUP_SCHEMA}", got ${show(doc.schema)}`);
  const pfs = doc.pfs;
  if (!Array.isArray(pfs) || pfs.length === 0) top.fail('pfs', `expected a non-empty array of PFs, got ${show(pfs)}`);
  return { pfs: pfs.map((p, i) => parsePf(file, `pfs[${i}]`, p)) };
}

function parsePf(file: string, at: string, v: Json): SetupPf {
  if (!isObject(v)) throw new InputError(`${file}: ${at}: expected an object with pf, numvfs, vfs, got ${show(v)}`);
  const f: Fields = new Fields(file, at, v);
  f.only(['pf', 'numvfs', 'vfs']);
  if (typeof v.pf !== 'string') f.fail('pf', `expected the PF's PCI address as a string, got ${show(v.pf)}`);
  let pf: string;
  try {
    pf = requireBdf(v.pf, 'PF');
  } catch (e) {
    f.fail('pf', (e as Error).message);
  }
  const numvfs = f.wholeNumber('numvfs', 0, false);
  // Absent means none; null is not an array (a generator that meant "none" says so by leaving it out).
  const vfsRaw = v.vfs === undefined ? [] : v.vfs;
  if (!Array.isArray(vfsRaw)) f.fail('vfs', `expected an array, got ${show(vfsRaw)}`);
  const vfs = vfsRaw.map((x, j) => parseVf(file, `${at}.vfs[${j}]`, x));
  const ids = new Set<number>();
  vfs.forEach((x, j) => {
    if (ids.has(x.vf)) throw new InputError(`${file}: ${at}.vfs[${j}].vf: VF ${x.vf} is listed twice`);
    ids.add(x.vf);
  });
  const out: SetupPf = { pf, vfs };
  if (numvfs !== undefined) out.numvfs = numvfs;
  return out;
}

function parseVf(file: string, at: string, v: Json): SetupVf {
  if (!isObject(v)) throw new InputError(`${file}: ${at}: expected an object with vf, vram, driver, got ${show(v)}`);
  const f: Fields = new Fields(file, at, v);
  f.only(['vf', 'vram', 'driver']);
  const id = f.wholeNumber('vf', 1, true)!;
  const out: SetupVf = { vf: id };
  if (v.vram !== undefined) {
    let bytes: bigint | null = null;
    if (typeof v.vram === 'string') bytes = parseSize(v.vram);
    else if (typeof v.vram === 'number' && Number.isSafeInteger(v.vram) && v.vram >= 0) bytes = BigInt(v.vram);
    if (bytes === null)
      f.fail('vram', `${show(v.vram)} is not a size (e.g. "4G", "512MiB", "0x20000000", or a number of bytes)`);
    out.vram = bytes;
  }
  if (v.driver !== undefined) {
    if (v.driver !== null && (typeof v.driver !== 'string' || !isDriverName(v.driver))) {
      f.fail('driver', `expected a driver name such as "vfio-pci", or null for no driver, got ${show(v.driver)}`);
    }
    out.driver = v.driver;
  }
  return out;
}
