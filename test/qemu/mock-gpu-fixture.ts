// The recorded runs of iovh's mock GPU guest (test/qemu/fixtures/mock-gpu-*.json: the topology `iovh capture` wrote
// in the guest, the VF and profile of the run, and what each scenario said), read as the tests that replay them on
// the mock read them (mock-gpu-conformance.test.ts, mock-gpu-ci.test.ts). docs/mock-gpu.md says how to record one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedScenario {
  id: string;
  status: string;
  path: string | null;
  /** the quirks' ids, sorted */
  quirks: string[];
  reason: string;
}

export interface MockGpuFixture {
  /** the mock's profile of that kernel */
  profile: string;
  vf: string;
  topology: {
    devices: { bdf: string; mockGpu?: unknown; sriov?: { vfs: { vramQuota: string | null }[] } }[];
  };
  scenarios: RecordedScenario[];
}

/** The RFC v1 kernel on the mock GPU (iovh_mock_gpu.translation=rfc-v1), profile rfc-v1. */
export const MOCK_GPU_FIXTURE = join(import.meta.dirname, 'fixtures', 'mock-gpu-rfc-v1.json');
/** The same kernel with the PF driver's corrected translation (--device mock-gpu,translation=fixed), profile fixed. */
export const MOCK_GPU_FIXED_FIXTURE = join(import.meta.dirname, 'fixtures', 'mock-gpu-fixed.json');

export function loadMockGpuFixture(file: string = MOCK_GPU_FIXTURE): MockGpuFixture {
  return JSON.parse(readFileSync(file, 'utf8')) as MockGpuFixture;
}
