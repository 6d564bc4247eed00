// The edge scenarios probe translations that are wrong on an RFC v1 kernel,
// so the GPU must never write through them (review finding 7b): on real
// hardware such a write lands in another VF's or the PF's VRAM. On the mock
// every VRAM write during the scenario is watched: it must stay inside the
// LMEM object of the VF the scenario works on (CPU writes through its BAR 2,
// which the LMTT maps there), and the quirks must still be found by reading.
import { describe, expect, it } from 'vitest';
import { createMockBackend, type MockBackend } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { declaredFor, declareTopology } from './declared.js';
import type { RunResult } from '../../src/report/model.js';
import { runOn } from './evidence-helpers.js';

const PF = '0000:03:00.0';

/** Runs `id` on `b`, recording every VRAM write of the PF as [dpa, length]. */
async function watchingVram(
  b: MockBackend,
  id: string,
): Promise<{ run: RunResult; writes: [bigint, number][]; objects: Map<number, { dpa: bigint; size: bigint }[]> }> {
  const xe = b.kernel.platform.xePf(b.kernel.platform.pci.device(PF)!)!;
  const objects = new Map<number, { dpa: bigint; size: bigint }[]>();
  for (let vfid = 1; vfid <= 4; vfid++) objects.set(vfid, [...(xe.lmemObj(vfid)?.blocks ?? [])]);
  const writes: [bigint, number][] = [];
  const write = xe.vram.write.bind(xe.vram);
  xe.vram.write = (address: bigint, data: Uint8Array) => {
    writes.push([address, data.length]);
    write(address, data);
  };
  const run = await runOn(b, [id]);
  return { run, writes, objects };
}

function outside(writes: [bigint, number][], blocks: { dpa: bigint; size: bigint }[]): string[] {
  return writes
    .filter(([a, n]) => !blocks.some((b) => a >= b.dpa && a + BigInt(n) <= b.dpa + b.size))
    .map(([a, n]) => `0x${a.toString(16)}+0x${n.toString(16)}`);
}

describe('edge scenarios read through translations expected to be wrong, never write', () => {
  it('edge/beyond-quota on rfc-v1: quota-unchecked found, no VRAM written outside VF 2', async () => {
    const b = createMockBackend({ profile: 'rfc-v1', topology: declareTopology(defaultTopology())!.topology });
    const { run, writes, objects } = await watchingVram(b, 'edge/beyond-quota');
    const r = run.scenarios[1]!;
    // The mock folds an access past the object back into it; a real kernel's lands beyond: no GPU write may happen at all.
    expect((r.evidence.data as { direction: string }[]).map((d) => d.direction)).toEqual(['cpu-write-gpu-read']);
    expect(writes.length).toBeGreaterThan(0);
    expect(outside(writes, objects.get(2)!)).toEqual([]);
    expect(r.quirks.map((q) => q.id)).toEqual(['quota-unchecked']);
    expect(r.quirks[0]!.evidence).toMatch(/the GPU read there 0x0 where the VF's BAR shows 0xffffffffffffffff/);
  });

  it('edge/beyond-quota on fixed: the page past the quota reads as the VF shows it, a pass', async () => {
    const b = createMockBackend({ profile: 'fixed', topology: declareTopology(defaultTopology())!.topology });
    const { run } = await watchingVram(b, 'edge/beyond-quota');
    expect(run.scenarios[1]).toMatchObject({ status: 'pass', path: 'p2p' });
    expect(run.scenarios[1]!.evidence.pastQuota).toMatchObject({ sameBytes: true, cpuWriteStuck: false });
  });

  it('edge/lmem-discontiguous on rfc-v1: contiguity found, no VRAM written outside VF 1', async () => {
    const b = createMockBackend({ profile: 'rfc-v1', topology: declaredFor('edge/lmem-discontiguous') });
    const { run, writes, objects } = await watchingVram(b, 'edge/lmem-discontiguous');
    expect(run.scenarios[1]!.quirks.map((q) => q.id)).toEqual(['contiguity']);
    expect(writes.length).toBeGreaterThan(0);
    expect(outside(writes, objects.get(1)!)).toEqual([]);
  });

  it('edge/npot-ranges on rfc-v1: the read of range 2 names the page it came from', async () => {
    const b = createMockBackend({ profile: 'rfc-v1', topology: declareTopology(defaultTopology())!.topology });
    const { run, writes, objects } = await watchingVram(b, 'edge/npot-ranges');
    expect(run.scenarios[1]!.quirks[0]!.evidence).toMatch(
      /the GPU read of range 2 \(BAR 2 offset 0x10000\) returned the bytes of 0x3000/,
    );
    expect(outside(writes, objects.get(1)!)).toEqual([]);
    expect((run.scenarios[1]!.evidence.data as { direction: string }[]).map((d) => d.direction)).toEqual([
      'cpu-write-gpu-read',
    ]);
  });
});
