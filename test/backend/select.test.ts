import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendChoiceError, hostFitness, nativeFitness, openBackend } from '../../src/backend/select.js';
import { scratchDir } from '../support/scratch.js';

// A fixture root standing for '/': selection reads only sysfs and /dev.
let root: string;
beforeEach(() => {
  root = scratchDir('iovh-select-');
  mkdirSync(join(root, 'sys/bus/pci/devices/0000:00:02.0'), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function addPf(bdf: string, total: number, numvfs: number): void {
  const d = join(root, 'sys/bus/pci/devices', bdf);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'sriov_totalvfs'), `${total}\n`);
  writeFileSync(join(d, 'sriov_numvfs'), `${numvfs}\n`);
}

describe('backend selection', () => {
  it('host purpose: a machine with an SR-IOV PF and no VFs is native, so bring-up acts on the real PF', async () => {
    addPf('0000:03:00.0', 24, 0);
    expect(hostFitness(root)).toMatchObject({ ok: true });
    expect(nativeFitness(root).ok).toBe(false);
    const be = await openBackend({ root, purpose: 'host' });
    try {
      expect(be.traits.name).toBe('native');
      expect(be.reason).toMatch(/^auto: SR-IOV PF 0000:03:00.0/);
    } finally {
      be.close();
    }
  });

  it('host purpose: no SR-IOV PF means the mock, and says why', async () => {
    const be = await openBackend({ root, purpose: 'host' });
    try {
      expect(be.traits.name).toBe('mock');
      expect(be.reason).toContain('no SR-IOV capable PF');
    } finally {
      be.close();
    }
  });

  it('run purpose: VFs without /dev/vfio is still the mock, with the reason', async () => {
    addPf('0000:03:00.0', 24, 2);
    const be = await openBackend({ root });
    try {
      expect(be.traits.name).toBe('mock');
      expect(be.reason).toMatch(/^auto: mock, because /);
    } finally {
      be.close();
    }
  });

  it('an unknown profile is a usage error naming the choices', async () => {
    await expect(openBackend({ backend: 'mock', profile: 'rfc-v9' })).rejects.toThrow(BackendChoiceError);
    await expect(openBackend({ backend: 'mock', profile: 'rfc-v9' })).rejects.toThrow(
      /upstream-6\.19, upstream-7\.0, upstream-7\.1, rfc-v1, rfc-v2, maptype-rfc, fixed, upstream \(= upstream-7\.1\)/,
    );
  });

  it('--backend mock with a topology file that does not validate is a one-line usage error', async () => {
    const bad = join(root, 'topo.json');
    writeFileSync(bad, '{"schema":"iovh-topology/1","devices":[{"bdf":"zz"}]}');
    const err = await openBackend({ backend: 'mock', topology: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendChoiceError);
    expect((err as BackendChoiceError).kind).toBe('input');
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('mock-only options', () => {
  it('are a usage error with --backend native', async () => {
    for (const o of [{ topology: '/x.json' }, { mockState: '/tmp/s.json' }, { profile: 'fixed' }]) {
      const err = await openBackend({ backend: 'native', root, ...o }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendChoiceError);
      expect((err as BackendChoiceError).kind).toBe('input');
      expect((err as Error).message).toMatch(/apply to the mock backend only|applies to the mock backend only/);
    }
  });

  it('make auto pick the mock, even on a machine native would run on, and say why', async () => {
    addPf('0000:03:00.0', 24, 0);
    const be = await openBackend({ root, purpose: 'host', profile: 'fixed' });
    try {
      expect(be.traits.name).toBe('mock');
      expect(be.reason).toBe('auto: mock, because --profile was given');
    } finally {
      be.close();
    }
  });
});
