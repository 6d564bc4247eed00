// The bugs table (src/harness/bugs.ts) in every report format, the schema, the
// baseline writer, and the documents that list it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUGS, bugsOfKasan, KASAN_EXCERPT_LINES, kasanExcerpt } from '../../src/harness/bugs.js';
import { renderBaseline } from '../../src/report/baseline.js';
import { renderDetails, renderSummary } from '../../src/report/human.js';
import { renderJson } from '../../src/report/json.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderKcidb } from '../../src/report/kcidb.js';
import { renderKtap } from '../../src/report/ktap.js';
import { RESULTS_SCHEMA } from '../../src/schema/results.js';
import { schemaProblem } from '../../src/schema/validate.js';
import { mixedRun } from './fixture.js';

const style = { color: false, tty: false, columns: 120 };

describe('bugs in the reports', () => {
  it('every format names the bug a result found, with its id and the kernels it affects', () => {
    const run = mixedRun();
    for (const [name, text] of [
      ['ktap', renderKtap(run)],
      ['junit', renderJunit(run)],
      ['kcidb', renderKcidb(run)],
      ['human', renderDetails(run, style)],
    ] as const) {
      expect(text, name).toMatch(/bug opath-stale-file \(a dma-buf held only by an O_PATH open/);
      expect(text, name).toMatch(/affected: 6\.19 and later; fixed: no fix merged/);
    }
    expect(renderSummary(run, style)).toMatch(/edge\/unprovisioned-vf: crash — quirk 4: .*; bug opath-stale-file: /);
    const json = JSON.parse(renderJson(run)) as { scenarios: { id: string; bugs: { id: string }[] }[] };
    expect(json.scenarios.find((s) => s.id === 'edge/unprovisioned-vf')!.bugs.map((b) => b.id)).toEqual([
      'opath-stale-file',
    ]);
    expect(schemaProblem(RESULTS_SCHEMA, json)).toBeNull();
    const kcidb = JSON.parse(renderKcidb(run)) as { tests: { path: string; misc: { bugs?: string[] } }[] };
    expect(kcidb.tests.find((t) => t.path === 'iovh.edge.unprovisioned-vf')!.misc.bugs).toEqual(['opath-stale-file']);
  });

  it('every format says the machine needs a reboot when a revoke trigger was left asleep in the kernel', () => {
    const run = mixedRun();
    const stuck = run.scenarios.find((s) => s.id === 'edge/unprovisioned-vf')!;
    const why = 'task 4245 stays asleep in the kernel holding VF 0000:03:00.1';
    stuck.evidence = { ...stuck.evidence, rebootNeeded: why };
    stuck.bugs = [
      {
        ...stuck.bugs[0]!,
        evidence: `VFIO_DEVICE_RESET ... did not complete even after the mapping was released: task 4245 is abandoned, and the machine needs a reboot`,
      },
    ];
    for (const [name, text] of [
      ['ktap', renderKtap(run)],
      ['junit', renderJunit(run)],
      ['kcidb', renderKcidb(run)],
      ['human', renderDetails(run, style)],
      ['json', renderJson(run)],
    ] as const)
      expect(text, name).toMatch(/the machine needs a reboot/);
    expect(renderSummary(run, style)).toContain(`the machine needs a reboot: edge/unprovisioned-vf: ${why}`);
  });

  it('the schema refuses a bug without its fields, and still reads a report written before the table', () => {
    const json = JSON.parse(renderJson(mixedRun())) as { scenarios: Record<string, unknown>[] };
    const bad = structuredClone(json);
    (bad.scenarios[0]! as { bugs: unknown[] }).bugs = [{ id: 'x', title: 't' }];
    expect(schemaProblem(RESULTS_SCHEMA, bad)).toMatch(/affected/);
    const old = structuredClone(json);
    for (const s of old.scenarios) delete s.bugs;
    expect(schemaProblem(RESULTS_SCHEMA, old)).toBeNull();
  });

  it('a recorded baseline keeps the bugs apart from the quirks', () => {
    const doc = JSON.parse(renderBaseline(mixedRun())) as { scenarios: Record<string, unknown> };
    expect(doc.scenarios['edge/unprovisioned-vf']).toMatchObject({
      status: 'crash',
      quirks: ['unprovisioned-oops'],
      bugs: ['opath-stale-file'],
    });
  });

  it('README and docs/bugs.md list every bug of the table', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const doc = readFileSync(new URL('../../docs/bugs.md', import.meta.url), 'utf8');
    for (const id of Object.keys(BUGS)) {
      expect(readme, id).toContain(`| \`${id}\``);
      expect(doc, id).toContain(`## \`${id}\``);
    }
  });
});

describe('bugs named from a KASAN report', () => {
  // As lib/kasan/report.c prints it (the report measured on a 7.2.13 KASAN guest, docs/bugs.md).
  const splat = [
    'BUG: KASAN: slab-use-after-free in get_file_active+0x4a/0xe0',
    'Write of size 8 at addr ff11000005d085a0 by task iovh/90',
    'Call Trace:',
    ' <TASK>',
    ' get_file_active+0x4a/0xe0',
    ' vfio_pci_dma_buf_move+0x254/0x560',
    ' vfio_pci_dma_buf_cleanup+0x41/0x270',
    ' vfio_pci_core_close_device+0x188/0x310',
    '==================================================================',
  ];

  it('get_file_active from vfio_pci_dma_buf_move is opath-stale-file; the excerpt ends with the closing line', () => {
    expect(bugsOfKasan(['unrelated', ...splat]).map((b) => b.id)).toEqual(['opath-stale-file']);
    expect(kasanExcerpt(['x', ...splat, 'after'])).toEqual(splat);
  });

  it('the excerpt keeps a whole report, "Freed by" and the cache included, and says what a bound cut', () => {
    const real = JSON.parse(
      readFileSync(new URL('../harness/fixtures/kasan-opath-7.2.13.json', import.meta.url), 'utf8'),
    ) as { log: string[] };
    const ex = kasanExcerpt(real.log);
    expect(ex.length).toBeGreaterThan(40);
    expect(ex.length).toBeLessThanOrEqual(KASAN_EXCERPT_LINES);
    expect(ex.join('\n')).toMatch(
      /Freed by task 79:[\s\S]*which belongs to the cache filp of size 344[\s\S]*Memory state/,
    );
    expect(ex.at(-1)).toMatch(/^\[[ 0-9.]+\] =+$/);
    // The next report starts a new excerpt: this one is the first alone.
    expect(ex.filter((l) => /BUG: KASAN/.test(l))).toHaveLength(1);
    const long = [splat[0]!, ...Array.from({ length: 300 }, (_, i) => ` frame_${i}+0x1/0x10`), '====='];
    const cut = kasanExcerpt(long);
    expect(cut).toHaveLength(KASAN_EXCERPT_LINES);
    expect(cut.at(-1)).toBe(`[... ${long.length - KASAN_EXCERPT_LINES + 1} more lines of this KASAN report]`);
  });

  it('the report a real 7.2.13 KASAN guest printed names opath-stale-file (test/harness/fixtures)', () => {
    const real = JSON.parse(
      readFileSync(new URL('../harness/fixtures/kasan-opath-7.2.13.json', import.meta.url), 'utf8'),
    ) as { log: string[]; reports: number };
    expect(real.reports).toBe(3);
    expect(bugsOfKasan(real.log)).toEqual([
      { id: 'opath-stale-file', head: expect.stringMatching(/BUG: KASAN: slab-use-after-free in get_file_active\+/) },
    ]);
    // The log kept the last 200 lines: its first whole report is the cleanup loop's own walk.
    expect(kasanExcerpt(real.log).join('\n')).toMatch(/get_file_active\+0x7f\/0x1e0\n.*vfio_pci_dma_buf_cleanup\+0x/);
  });

  it('get_file_active from elsewhere, or no KASAN line, names nothing', () => {
    expect(bugsOfKasan(splat.map((l) => l.replace(/vfio_pci_dma_buf_(move|cleanup)/, 'other_fn')))).toEqual([]);
    expect(bugsOfKasan(splat.slice(1))).toEqual([]);
  });
});
