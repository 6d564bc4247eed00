// The declared state `iovh setup PLAN.json` brings about (schema
// iovh-setup/1, documented in docs/bringup.md). Validation names the file
// and the field in one line, and rejects unknown fields so that a typo is an
// error instead of a silently ignored wish.
import { InputError, requireBdf } from './errors.js';
import type { SetupPf, SetupSpec, SetupVf } from './planner.js';
import { parseSize } from './size.js';
import { parseUserJson, UserFileError } from '../userfile.js';
import { SETUP_SCHEMA_JSON } from '../schema/setup.js';
import { schemaProblem } from '../schema/validate.js';

export const SETUP_SCHEMA = 'iovh-setup/1';

/** Parses and validates the text of a setup file; `file` is how messages name it. */
export function parseSetup(file: string, text: string): SetupSpec {
  let doc: unknown;
  try {
    doc = parseUserJson(text);
  } catch (e) {
    if (e instanceof UserFileError) throw new InputError(`${file}: ${e.message}`);
    throw e;
  }
  // The shape (types, unknown fields, whole numbers) is the published schema's (src/schema/setup.ts, ajv); what
  // needs the PCI address grammar, sizes with units or more than one field is checked below.
  const problem = schemaProblem(SETUP_SCHEMA_JSON, doc);
  if (problem) throw new InputError(`${file}: ${problem}`);
  const plan = doc as PlanJson;
  return { pfs: plan.pfs.map((p, i) => parsePf(file, `pfs[${i}]`, p)) };
}

interface PlanJson {
  schema: typeof SETUP_SCHEMA;
  pfs: { pf: string; numvfs?: number; vfs?: { vf: number; vram?: string | number; driver?: string | null }[] }[];
}

function parsePf(file: string, at: string, v: PlanJson['pfs'][number]): SetupPf {
  let pf: string;
  try {
    pf = requireBdf(v.pf, 'PF');
  } catch (e) {
    throw new InputError(`${file}: ${at}.pf: ${(e as Error).message}`);
  }
  // Absent means none; null is not an array (the schema refuses it: a generator that meant "none" leaves it out).
  const vfs = (v.vfs ?? []).map((x, j) => parseVf(file, `${at}.vfs[${j}]`, x));
  const ids = new Set<number>();
  vfs.forEach((x, j) => {
    if (ids.has(x.vf)) throw new InputError(`${file}: ${at}.vfs[${j}].vf: VF ${x.vf} is listed twice`);
    ids.add(x.vf);
  });
  const out: SetupPf = { pf, vfs };
  if (v.numvfs !== undefined) out.numvfs = v.numvfs;
  return out;
}

function parseVf(file: string, at: string, v: NonNullable<PlanJson['pfs'][number]['vfs']>[number]): SetupVf {
  const out: SetupVf = { vf: v.vf };
  if (v.vram !== undefined) {
    const bytes = typeof v.vram === 'string' ? parseSize(v.vram) : BigInt(v.vram);
    if (bytes === null)
      throw new InputError(
        `${file}: ${at}.vram: ${JSON.stringify(v.vram)} is not a size (e.g. "4G", "512MiB", "0x20000000", or a number of bytes)`,
      );
    out.vram = bytes;
  }
  if (v.driver !== undefined) out.driver = v.driver;
  return out;
}
