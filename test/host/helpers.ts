// Shared setup for the src/host/ unit tests: a fake kernel with one xe PF (and
// optionally an igb-like PF without provisioning), and the plan context over it.
import { rmSync } from 'node:fs';
import { FakeKernel, type FakePf } from './fake-kernel.js';
import { PlanState } from '../../src/host/state.js';
import { SysReader } from '../../src/machine/sysfs.js';
import { discover } from '../../src/machine/topology.js';
import type { PlanContext } from '../../src/host/planner.js';
import { scratchDir } from '../support/scratch.js';

export const XE_PF: FakePf = {
  bdf: '0000:03:00.0',
  driver: 'xe',
  totalvfs: 8,
  offset: 1,
  stride: 1,
  xe: true,
  vfDriver: 'xe',
};
export const IGB_PF: FakePf = {
  bdf: '0000:01:00.0',
  vendor: 0x8086,
  device: 0x10c9,
  driver: 'igb',
  totalvfs: 7,
  offset: 0x80,
  stride: 2,
  vfDriver: 'igbvf',
};

export function fakeMachine(pfs: FakePf[] = [XE_PF, IGB_PF]): FakeKernel {
  return new FakeKernel(pfs, ['0000:00:02.0']);
}

export function contextOf(fs: FakeKernel): PlanContext {
  return { state: PlanState.from(discover(fs)), reader: new SysReader(fs) };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = scratchDir(prefix);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
