#!/usr/bin/env node
// @ts-check
// The program the QEMU guest's /init runs (scripts/qemu-ci/init.sh), with this
// host's node, inside a chroot of the host's root: it loads iovh from the
// checkout's dist/ (compiled by `npm run build:ts`) and the built addon,
// opens the native backend, runs the scenarios of scenarios.mjs against the
// guest's real kernel, prints one line per scenario on the console, and writes
// results.json for the host. Exit 0 when nothing failed.
//
//   node main.mjs --out <file> --nonce <n> --variant <v> --pf <bdf> --vf <bdf> --repo <dir>
import { renameSync, writeFileSync } from 'node:fs';
import { runScenarios } from './scenarios.mjs';
import { loadLib } from './lib.mjs';

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (!k.startsWith('--') || v === undefined) throw new Error(`bad arguments near '${k}' (expected --name value pairs)`);
    out[k.slice(2)] = v;
  }
  for (const k of ['out', 'nonce', 'variant', 'pf', 'vf', 'repo']) if (!out[k]) throw new Error(`missing --${k}`);
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = new Date().toISOString();
  const kernel = (await import('node:os')).release();
  /** @type {Array<Record<string, unknown>>} */
  let results = [];
  let fatal = null;
  try {
    const { lib, native, addon } = await loadLib(args.repo);
    const loaded = addon.loadAddon();
    if (!loaded.addon) throw new Error(`the native addon did not load: ${loaded.error} (build it on the host: npm run build:native)`);
    const backend = native.createNativeBackend({ reason: 'QEMU CI guest' });
    try {
      results = await runScenarios({
        backend, lib, vf: args.vf, pf: args.pf,
        onResult: (r) => console.log(`IOVH-SCENARIO ${r.status} ${r.id}${r.errno ? ` ${r.errno}` : ''} :: ${r.detail}`),
      });
    } finally {
      backend.close();
    }
  } catch (e) {
    fatal = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.log(`IOVH-SCENARIO fail guest.setup :: ${fatal}`);
    results.push({ id: 'guest.setup', title: 'load iovh and open the native backend', status: 'fail', path: null, errno: null, detail: fatal, ms: 0 });
  }
  const doc = {
    nonce: args.nonce,
    variant: args.variant,
    kernel,
    backend: 'native',
    pf: args.pf,
    vf: args.vf,
    startedAt: started,
    finishedAt: new Date().toISOString(),
    scenarios: results,
  };
  // Write then rename, so the host never reads half a file.
  const tmp = `${args.out}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, args.out);
  const bad = results.filter((r) => r.status === 'fail' || r.status === 'crash' || r.status === 'warn');
  const count = (/** @type {string} */ s) => results.filter((r) => r.status === s).length;
  console.log(`IOVH-SUMMARY ${count('pass')} passed, ${bad.length} failed, ${count('skip')} skipped`);
  return bad.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`iovh guest: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  },
);
