// Helpers for the evidence tests: the catalog on a declared mock kernel, with
// FileOps wrapped to model what a real machine may refuse (a kernel in
// lockdown answering EPERM to kprobe_events, a kallsyms without some
// symbols) without changing the mock itself.
import type { Backend, FileOps } from '../../src/backend/types.js';
import { SystemError, errnoNumber } from '../../src/uapi/errors.js';
import type { KernelConfig } from '../../src/mock/kconfig.js';
import { createMockBackend, type MockBackend, type MockOptions } from '../../src/mock/backend.js';
import { defaultTopology } from '../../src/mock/topology.js';
import { declareTopology } from './declared.js';
import { runScenarios, type RunnerOptions } from '../../src/harness/runner.js';
import { scenarioById } from '../../src/harness/catalog/index.js';
import type { Scenario } from '../../src/harness/scenario.js';
import { SIMULATED_KERNEL_TIMING } from '../../src/harness/timing.js';
import type { RunResult } from '../../src/report/model.js';

export type Profile = import('../../src/mock/contracts.js').ProfileName;

export function declaredMock(
  profile: Profile,
  kernelConfig?: KernelConfig,
  quirks?: MockOptions['quirks'],
): MockBackend {
  return createMockBackend({
    profile,
    topology: declareTopology(defaultTopology())!.topology,
    ...(kernelConfig ? { kernelConfig } : {}),
    ...(quirks ? { quirks } : {}),
  });
}

/** A FileOps call refused with an errno (null: let it through). */
export type Refusal = (op: 'read' | 'write' | 'mkdir' | 'rmdir', path: string, data?: string) => string | null;

/** `fs` with some calls refused, and /proc/kallsyms lines filtered. */
export function wrapFs(fs: FileOps, o: { refuse?: Refusal; hideSymbols?: readonly string[] }): FileOps {
  const refuse = (op: 'read' | 'write' | 'mkdir' | 'rmdir', path: string, data?: string): void => {
    const code = o.refuse?.(op, path, data) ?? null;
    if (code)
      throw new SystemError({
        errno: errnoNumber(code),
        syscall: op === 'read' ? 'open' : op === 'write' ? 'write' : op,
        path,
      });
  };
  const hidden = new Set(o.hideSymbols ?? []);
  const kallsyms = (text: string): string =>
    text
      .split('\n')
      .filter((l) => !hidden.has(l.split(/\s+/)[2] ?? ''))
      .join('\n');
  return {
    ...fs,
    readText: (p) => {
      refuse('read', p);
      const t = fs.readText(p);
      return p === '/proc/kallsyms' ? kallsyms(t) : t;
    },
    readFile: (p) => {
      refuse('read', p);
      return p === '/proc/kallsyms' ? new TextEncoder().encode(kallsyms(fs.readText(p))) : fs.readFile(p);
    },
    writeFile: (p, d, opts) => {
      refuse('write', p, d);
      fs.writeFile(p, d, opts);
    },
    mkdir: (p) => {
      refuse('mkdir', p);
      fs.mkdir(p);
    },
    rmdir: (p) => {
      refuse('rmdir', p);
      fs.rmdir(p);
    },
  };
}

export function withFs(b: MockBackend, fs: FileOps): Backend {
  return { reason: b.reason, dev: b.dev, fs, traits: b.traits, close: () => b.close() };
}

export function runOptions(backend: Backend, ids: string[], over: Partial<RunnerOptions> = {}): RunnerOptions {
  return scenarioOptions(
    backend,
    ids.map((id) => scenarioById(id)!),
    over,
  );
}

/** Runner options for `scenarios` after caps/kernel on `backend`, with the simulated kernel's timing. */
export function scenarioOptions(
  backend: Backend,
  scenarios: Scenario[],
  over: Partial<RunnerOptions> = {},
): RunnerOptions {
  const profile = (backend as Partial<MockBackend>).kernel?.profile.name ?? null;
  return {
    backend,
    backendInfo: { name: 'mock', reason: 'test', profile },
    scenarios: [scenarioById('caps/kernel')!, ...scenarios],
    timeoutMs: 60_000,
    timing: SIMULATED_KERNEL_TIMING,
    want: { pf: null, vf: null },
    baseline: null,
    filters: [],
    setup: [],
    toolVersion: 'test',
    ...over,
  };
}

/** Run `ids` (after caps/kernel) on `backend`, closing it after. */
export async function runOn(backend: Backend, ids: string[], over: Partial<RunnerOptions> = {}): Promise<RunResult> {
  try {
    return await runScenarios(runOptions(backend, ids, over));
  } finally {
    backend.close();
  }
}

/** Run `ids` (after caps/kernel) on `backend` and leave it open (the caller looks at the kernel after). */
export function runKeep(backend: Backend, ids: string[], over: Partial<RunnerOptions> = {}): Promise<RunResult> {
  return runScenarios(runOptions(backend, ids, over));
}
