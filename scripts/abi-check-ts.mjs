#!/usr/bin/env node
// Second half of `npm run abi-check`: the numbers TypeScript uses on its own
// (src/uapi/constants.ts constants, src/uapi/layout.ts struct layouts) against
// the kernel's values that the C checker wrote to a JSON file. Every constant
// is either compared or listed below as not uapi, with the reason; a new
// constant that maps to no kernel name fails the check.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernel = JSON.parse(readFileSync(process.argv[2] ?? join(root, '.cache/abi/kernel-values.json'), 'utf8'));
const out = join(root, '.cache/abi/ts');
mkdirSync(out, { recursive: true });

// constants.ts and layout.ts import nothing: transpile them alone, so this check
// does not depend on the rest of the tree compiling.
async function load(name) {
  const src = readFileSync(join(root, 'src/uapi', `${name}.ts`), 'utf8');
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = join(out, `${name}.mjs`);
  writeFileSync(file, js);
  return import(pathToFileURL(file).href);
}

const uapi = await load('constants');
const layout = await load('layout');

/** Constants that are not kernel uapi, and where their value comes from instead. */
const notUapi = {
  PAGE_SIZE: 'the x86_64 base page size (the page alignment rule of docs/kernel.md §3.3), not a header constant',
  'VFIO.PCI_OFFSET_SHIFT': 'drivers/vfio/pci/vfio_pci_priv.h (kernel-internal; docs/kernel.md §2)',
  'XE.PAT_INDEX_WB_2WAY_XE2': 'the Xe2 PAT table (kernel xe_pat.c, IGT intel_get_pat_idx_wb; docs/kernel.md §7)',
  'XE.PAT_INDEX_UC_XE2': 'the Xe2 PAT table (kernel xe_pat.c; docs/kernel.md §7)',
  MI: 'xe/instructions/xe_mi_commands.h (kernel-internal; docs/kernel.md §8)',
};

/** Kernel names a TS constant may have, most specific first. */
const candidates = {
  VFIO: (k) => [`VFIO_${k}`, `VFIO_DEVICE_${k}`],
  DRM: (k) => [`DRM_${k}`],
  XE: (k) => [`DRM_XE_${k}`, `DRM_XE_DEVICE_${k}`, `DRM_XE_QUERY_${k}`],
  DMA_BUF: (k) => [`DMA_BUF_${k}`],
  IOMMU: (k) => [`IOMMU_${k}`],
  UDMABUF: (k) => [`UDMABUF_${k}`],
  MFD: (k) => [`MFD_${k}`],
  F_SEAL: (k) => [`F_SEAL_${k}`],
  O: (k) => [`O_${k}`],
  PROT: (k) => [`PROT_${k}`],
};

let compared = 0;
let failed = 0;
const line = (ok, what, detail) => {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'}  ${what.padEnd(66)} ${detail}`);
  if (!ok) failed++;
  compared++;
};

console.log('abi-check: src/uapi/constants.ts and src/uapi/layout.ts against the same headers');
for (const [group, value] of Object.entries(uapi)) {
  if (typeof value === 'function') continue;
  if (notUapi[group]) {
    console.log(`  --    ${group.padEnd(66)} not uapi: ${notUapi[group]}`);
    continue;
  }
  const names = candidates[group];
  if (typeof value !== 'object') {
    line(false, group, 'no kernel name known for this constant: add it to scripts/abi-check-ts.mjs');
    continue;
  }
  for (const [key, v] of Object.entries(value)) {
    const full = `${group}.${key}`;
    if (notUapi[full]) {
      console.log(`  --    ${full.padEnd(66)} not uapi: ${notUapi[full]}`);
      continue;
    }
    const name = names?.(key).find((n) => kernel[`value ${n}`] !== undefined);
    if (!name) {
      line(false, full, 'no kernel name found: define it in core/uapi or core/abi/extra.h, or list it as not uapi');
      continue;
    }
    const k = BigInt(kernel[`value ${name}`]);
    line(BigInt(v) === k, `${full} (${name})`, BigInt(v) === k ? String(v) : `ours ${v}, kernel ${k}`);
  }
}

for (const table of Object.values(layout)) {
  for (const [struct, fields] of Object.entries(table)) {
    for (const [field, v] of Object.entries(fields)) {
      const key =
        field === 'size' ? `size struct ${struct}` : `offset ${struct}.${field === 'size_field' ? 'size' : field}`;
      if (kernel[key] === undefined) {
        line(false, key, 'not in the kernel values: define the struct in core/uapi so abi-check can measure it');
        continue;
      }
      const k = Number(kernel[key]);
      line(v === k, `layout ${key}`, v === k ? String(v) : `ours ${v}, kernel ${k}`);
    }
  }
}

console.log(
  `abi-check: ${compared} TypeScript values compared: ${failed ? `${failed} MISMATCH${failed === 1 ? '' : 'ES'}` : 'all match'}`,
);
process.exit(failed ? 1 : 0);
