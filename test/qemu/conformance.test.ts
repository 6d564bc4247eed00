import { describe, expect, it } from 'vitest';
import {
  compareResults,
  describeDisagreement,
  fixtureFrom,
  kernelConfigFrom,
  ruleFor,
} from '../../scripts/qemu-ci/conformance.mjs';
import { MODELLED_OPTIONS } from '../../src/mock/kconfig.js';
import type { BootReport } from '../../scripts/qemu-ci/boot.mjs';
import { SCENARIOS, RULES } from './guest/scenarios.mjs';
import { FLOW_RULES } from './guest/flow.mjs';
import { IOMMUFD_SCENARIOS } from './guest/iommufd.mjs';
import { RULE_SCENARIOS } from './guest/rules.mjs';

const kernel = [
  { id: 'export.probe', status: 'pass', path: null, errno: null, detail: 'supported' },
  { id: 'errno.offset-overflow', status: 'pass', path: null, errno: 'EOVERFLOW', detail: 'EOVERFLOW' },
  { id: 'import.vgem-refused', status: 'pass', path: 'refused', errno: 'EOPNOTSUPP', detail: 'EOPNOTSUPP' },
  { id: 'errno.bar-empty', status: 'skip', path: null, errno: null, detail: 'no empty BAR' },
];

describe('compareResults', () => {
  it('agrees when status, path and errno agree, whatever the details say', () => {
    const mock = kernel.map((r) => ({ ...r, detail: 'the mock words it differently' }));
    const rows = compareResults(kernel, mock, RULES);
    expect(rows.every((r) => r.agree)).toBe(true);
    expect(rows).toHaveLength(4);
  });

  it('names the scenario, both results and the rule to fix', () => {
    const mock = kernel.map((r) =>
      r.id === 'errno.offset-overflow'
        ? { ...r, status: 'fail', errno: 'EINVAL', detail: 'expected EOVERFLOW, got EINVAL' }
        : r,
    );
    const rows = compareResults(kernel, mock, RULES);
    const bad = rows.filter((r) => !r.agree);
    expect(bad.map((r) => r.id)).toEqual(['errno.offset-overflow']);
    expect(bad[0]!.diffs).toEqual(['status: kernel pass, mock fail', 'errno: kernel EOVERFLOW, mock EINVAL']);
    const line = describeDisagreement(bad[0]!);
    expect(line).toMatch(/^errno\.offset-overflow: kernel pass EOVERFLOW vs mock fail EINVAL/);
    expect(line).toContain('Model rule to fix: vfio_pci_core_fill_phys_vec: BAR start + offset overflows');
  });

  it('catches a path difference and a scenario only one side ran', () => {
    const mock = [
      ...kernel
        .filter((r) => r.id !== 'export.probe')
        .map((r) => (r.id === 'import.vgem-refused' ? { ...r, path: 'p2p' } : r)),
      { id: 'extra', status: 'pass' },
    ];
    const rows = compareResults(kernel, mock, RULES);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get('import.vgem-refused')!.diffs).toEqual(['path: kernel refused, mock p2p']);
    expect(byId.get('export.probe')!.diffs).toEqual(['the mock did not run it']);
    expect(byId.get('extra')!.diffs).toEqual(['the real kernel did not run it']);
    expect(byId.get('extra')!.rule).toBe('no rule recorded for this scenario');
  });

  it('names a harness scenario by its id when it has no rule of ours', () => {
    expect(ruleFor(RULES, 'run:export/invalid-args')).toContain('harness scenario export/invalid-args');
    expect(ruleFor(RULES, 'errno.set')).toBe(RULES['errno.set']);
  });

  it('treats a skip on one side only as a disagreement', () => {
    const mock = kernel.map((r) => (r.id === 'errno.bar-empty' ? { ...r, status: 'pass', errno: 'ENODEV' } : r));
    expect(
      compareResults(kernel, mock, RULES)
        .filter((r) => !r.agree)
        .map((r) => r.id),
    ).toEqual(['errno.bar-empty']);
  });
});

describe('the scenario catalog', () => {
  it('has unique ids, each with a title and the kernel rule it exercises', () => {
    const ids = SCENARIOS.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of SCENARIOS) {
      expect(s.title.length, s.id).toBeGreaterThan(5);
      expect(RULES[s.id], `RULES['${s.id}']`).toBeTruthy();
    }
    expect(Object.keys(RULES).sort()).toEqual([...ids].sort());
  });

  it('names only prerequisites some scenario provides', () => {
    const known = new Set(['device', 'bars', 'vgem', 'emptyBar']);
    for (const s of SCENARIOS) for (const n of s.needs) expect(known.has(n), `${s.id} needs ${n}`).toBe(true);
  });
});

describe('the recorded kernel results', () => {
  it('cover the current catalog and come from a passing run (re-record: npm run test:qemu && node scripts/qemu-ci/main.mjs record)', async () => {
    const { readFileSync } = await import('node:fs');
    const { KERNEL_FIXTURE } = await import('../../scripts/qemu-ci/conformance.mjs');
    const fixture = JSON.parse(readFileSync(KERNEL_FIXTURE, 'utf8')) as {
      kernel: string;
      scenarios: Array<{ id: string; status: string }>;
    };
    const ours = fixture.scenarios.filter((s) => !/^(run:|cli\.|pf\.|iommufd\.|rules\.)/.test(s.id)).map((s) => s.id);
    expect(ours).toEqual(SCENARIOS.map((s) => s.id));
    // The iommufd scenarios run for the VF and the PF; skipped where the kernel has no /dev/iommu.
    const iommufd = fixture.scenarios.filter((s) => s.id.startsWith('iommufd.')).map((s) => s.id);
    expect(iommufd).toEqual(['vf', 'pf'].flatMap((role) => IOMMUFD_SCENARIOS.map((s) => `iommufd.${role}.${s.id}`)));
    expect(fixture.scenarios.filter((s) => s.id.startsWith('rules.')).map((s) => s.id)).toEqual(
      RULE_SCENARIOS.map((s) => `rules.${s.id}`),
    );
    // The PF's bind to vfio-pci happens only where there is /dev/iommu.
    for (const step of Object.keys(FLOW_RULES).filter((id) => /^cli\./.test(id) && id !== 'cli.find-pf'))
      expect(fixture.scenarios.map((s) => s.id)).toContain(step);
    expect(fixture.kernel).toMatch(/^\d+\.\d+/);
    expect(fixture.scenarios.filter((s) => s.status !== 'pass' && s.status !== 'skip')).toEqual([]);
  });

  it("record that iovh doctor named Debian's stock 7.2 kernel upstream-7.1 (issue 12), as the mock does", async () => {
    const { readFileSync } = await import('node:fs');
    const { KERNEL_FIXTURE } = await import('../../scripts/qemu-ci/conformance.mjs');
    const fixture = JSON.parse(readFileSync(KERNEL_FIXTURE, 'utf8')) as {
      kernel: string;
      scenarios: Array<{ id: string; status: string; observed?: string }>;
    };
    expect(fixture.kernel).toMatch(/^7\.2\./);
    const doctor = fixture.scenarios.find((s) => s.id === 'cli.doctor');
    expect(doctor?.status).toBe('pass');
    // conformance-mock.test.ts replays it: the mock's doctor must observe the same shape.
    expect(doctor?.observed).toBe('upstream-7.1');
  });
});

describe('kernelConfigFrom', () => {
  it("reads from a kernel's .config every build option the mock models (src/mock/kconfig.ts), y for built in or a module", () => {
    const text = ['CONFIG_KASAN=y', 'CONFIG_PROVE_LOCKING=y', 'CONFIG_IOMMUFD=m', '# CONFIG_SECURITY is not set'].join(
      '\n',
    );
    const config = kernelConfigFrom(text);
    expect(Object.keys(config)).toEqual([...MODELLED_OPTIONS]);
    expect(config).toMatchObject({ KASAN: 'y', PROVE_LOCKING: 'y', IOMMUFD: 'y', SECURITY: 'n', DEBUG_KMEMLEAK: 'n' });
  });
});

describe('topologyDifferences', () => {
  it('accepts the committed igb topology against itself and names what changed', async () => {
    const { readFileSync } = await import('node:fs');
    const { IGB_TOPOLOGY, topologyDifferences } = await import('../../scripts/qemu-ci/conformance.mjs');
    const committed = JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8'));
    expect(topologyDifferences(committed, committed)).toEqual([]);
    const captured = structuredClone(committed);
    captured.devices[0].sriov.totalvfs = 8;
    captured.devices[0].bars[0].size = '0x40000';
    expect(topologyDifferences(captured, committed)).toEqual([
      '0000:01:00.0 BARs: guest 0:mem32:0x40000 1:mem32:0x20000 2:io:0x20 3:mem64:0x4000, topology-igb.json 0:mem32:0x20000 1:mem32:0x20000 2:io:0x20 3:mem64:0x4000',
      '0000:01:00.0 sriov.totalvfs: guest 8, topology-igb.json 7',
    ]);
    expect(topologyDifferences({ devices: [] }, committed)).toEqual(['0000:01:00.0: not in the captured topology']);
  });

  it('sees a VF BAR size and an I/O BAR: nothing in the committed file is corrected by hand any more', async () => {
    const { readFileSync } = await import('node:fs');
    const { IGB_TOPOLOGY, topologyDifferences } = await import('../../scripts/qemu-ci/conformance.mjs');
    const committed = JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8'));
    // What capture wrote before VF BAR sizes were powers of two, and without the I/O BAR.
    const captured = structuredClone(committed);
    captured.devices[0].sriov.vfBars[0].size = '0x4924';
    captured.devices[0].bars = captured.devices[0].bars.filter((b: { kind: string }) => b.kind !== 'io');
    expect(topologyDifferences(captured, committed)).toEqual([
      '0000:01:00.0 BARs: guest 0:mem32:0x20000 1:mem32:0x20000 3:mem64:0x4000, topology-igb.json 0:mem32:0x20000 1:mem32:0x20000 2:io:0x20 3:mem64:0x4000',
      '0000:01:00.0 VF BARs: guest 0:mem64:0x4924 3:mem64:0x4000, topology-igb.json 0:mem64:0x4000 3:mem64:0x4000',
    ]);
  });

  it('is what the mock loads: the committed file parses, I/O BAR included', async () => {
    const { readFileSync } = await import('node:fs');
    const { IGB_TOPOLOGY } = await import('../../scripts/qemu-ci/conformance.mjs');
    const { parseTopology } = await import('../../src/mock/topology.js');
    const t = parseTopology(JSON.parse(readFileSync(IGB_TOPOLOGY, 'utf8')), 'topology-igb.json');
    expect(t.devices[0]!.bars.map((b) => b.kind)).toContain('io');
    expect(t.devices[0]!.sriov!.vfBars.map((b) => b.size)).toEqual([0x4000n, 0x4000n]);
  });

  it("record writes the guest's capture as is, but for the per-boot kernel line", async () => {
    const { topologyFileFrom } = await import('../../scripts/qemu-ci/conformance.mjs');
    const captured = {
      schema: 'iovh-topology/1',
      machine: 'QEMU',
      kernel: { release: '7.2.13', cmdline: 'iovh.nonce=abc' },
      devices: [{ bdf: '0000:01:00.0' }],
    };
    expect(JSON.parse(topologyFileFrom(captured))).toEqual({
      schema: 'iovh-topology/1',
      machine: 'QEMU',
      devices: [{ bdf: '0000:01:00.0' }],
    });
    expect(topologyFileFrom(captured).endsWith('}\n')).toBe(true);
    // The bridges: the capture's, else (a capture of an older iovh) as committed.
    const bridges = [{ bdf: '0000:00:00.0', vendor: '0x8086', device: '0x29c0' }];
    expect(JSON.parse(topologyFileFrom(captured, { bridges }))).toEqual({
      schema: 'iovh-topology/1',
      machine: 'QEMU',
      bridges,
      devices: [{ bdf: '0000:01:00.0' }],
    });
    const seen = [...bridges, { bdf: '0000:00:01.0', acs: '0x005f' }];
    expect(JSON.parse(topologyFileFrom({ ...captured, bridges: seen }, { bridges }))).toEqual({
      schema: 'iovh-topology/1',
      machine: 'QEMU',
      bridges: seen,
      devices: [{ bdf: '0000:01:00.0' }],
    });
  });
});

describe('fixtureFrom (main.mjs record)', () => {
  const boot = (scenarios: { id: string; status: string }[], xfail: string[] = []) =>
    ({
      variant: 'kasan-igb-intel-iommu',
      status: 'pass',
      reason: 'verdict',
      results: { scenarios: scenarios.map((s) => ({ ...s, path: null, errno: null, detail: '' })) },
      xfail: xfail.map((id) => ({ id, line: `${id}: expected` })),
    }) as unknown as BootReport;
  const versions = { kernel: '7.2.13', qemu: '10.0.2' };

  it("records a failure the shape's baseline expects (a known bug) as the kernel's answer", () => {
    const b = boot(
      [
        { id: 'rules.a', status: 'pass' },
        { id: 'run:bugs/revoke-hang-flr', status: 'fail' },
        { id: 'detector.kasan', status: 'fail' },
      ],
      ['run:bugs/revoke-hang-flr'],
    );
    const doc = JSON.parse(fixtureFrom(b, versions, /^detector\./)) as { scenarios: { id: string; status: string }[] };
    expect(doc.scenarios.map((s) => [s.id, s.status])).toEqual([
      ['rules.a', 'pass'],
      ['run:bugs/revoke-hang-flr', 'fail'],
    ]);
  });

  it('refuses a run with a failure nothing expects', () => {
    const b = boot([{ id: 'rules.a', status: 'fail' }], ['run:bugs/revoke-hang-flr']);
    expect(() => fixtureFrom(b, versions, /^detector\./)).toThrow(/did not pass/);
  });
});
