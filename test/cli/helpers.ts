// Running iovh in the test process (main(argv), output captured: run-cli.ts) and, where a
// real kill is needed, as a child process from a one-file bundle of the CLI.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMockBackend } from '../../src/mock/backend.js';
import type { ProfileName } from '../../src/mock/contracts.js';
import { FixtureTree, resourceText } from '../host/fixture-tree.js';
import { scratchDir } from '../support/scratch.js';
import { iovh as runInProcess } from './run-cli.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `iovh argv` in this process and returns its exit status and output (run-cli.ts, as out/err). */
export async function iovh(...argv: string[]): Promise<CliResult> {
  const r = await runInProcess(...argv);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** A scratch directory for one test: the journal's state dir and the mock's state file. */
export class Lab {
  readonly dir = scratchDir('iovh-cli-');
  readonly state = join(this.dir, 'mock-state.json');
  readonly stateDir = join(this.dir, 'iovh-state');
  private readonly savedEnv = process.env.IOVH_STATE_DIR;

  /** `profile`: the mock profile the state file is made with (default: the mock's default). */
  constructor(readonly profile?: string) {
    process.env.IOVH_STATE_DIR = this.stateDir;
  }

  /** `iovh --backend mock --mock-state <state> ...argv`, in process. */
  run(...argv: string[]): Promise<CliResult> {
    return iovh(
      '--backend',
      'mock',
      '--mock-state',
      this.state,
      ...(this.profile ? ['--profile', this.profile] : []),
      ...argv,
    );
  }

  file(name: string, content: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, content);
    return p;
  }

  /** Every sysfs file of the mock kernel in the state file, as path -> content (MockControl.snapshotSysfs). */
  sysfs(topology?: string): Map<string, string> {
    const b = createMockBackend({
      statePath: this.state,
      stateAccess: 'read',
      ...(topology ? { topology } : {}),
      ...(this.profile ? { profile: this.profile as ProfileName } : {}),
    });
    try {
      return b.kernel.snapshotSysfs();
    } finally {
      b.close();
    }
  }

  remove(): void {
    if (this.savedEnv === undefined) delete process.env.IOVH_STATE_DIR;
    else process.env.IOVH_STATE_DIR = this.savedEnv;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A device attribute in a snapshot, which is keyed by the real path under /sys/devices. */
export function attr(snapshot: Map<string, string>, bdf: string, name: string): string | undefined {
  for (const [k, v] of snapshot) if (k.endsWith(`/${bdf}/${name}`)) return v;
  return undefined;
}

/** Paths whose content differs between two snapshots (added, removed or changed). */
export function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: ${JSON.stringify(v)} -> ${JSON.stringify(b.get(k))}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: (absent) -> ${JSON.stringify(b.get(k))}`);
  return out;
}

/** A one-file bundle of the CLI (rolldown, which vitest's vite uses) for child processes that must really die. */
export async function bundleCli(dir: string): Promise<string> {
  const { build } = await import('rolldown');
  const file = join(dir, 'bundle', 'main.js');
  await build({
    input: join(import.meta.dirname, '../../src/cli/main.ts'),
    platform: 'node',
    // One file: iovh qemu's engine is a dynamic import (src/cli/commands/qemu.ts), which would split the bundle.
    output: { file, format: 'esm', codeSplitting: false },
    logLevel: 'silent',
  });
  return file;
}

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

/** Runs the bundled CLI as a child process with extra environment. */
export function spawnCli(bundle: string, argv: string[], env: Record<string, string>): ChildResult {
  const r = spawnSync(process.execPath, [bundle, ...argv], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** Runs `fn` with extra environment variables, restoring the environment after. */
export async function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A native root with an SR-IOV PF at `bdf` whose sysfs attributes are all read-only (mode 0444). */
export function readOnlyRoot(root: string, bdf = '0000:03:00.0', totalvfs = 7): string {
  const t = new FixtureTree(root).device(
    bdf,
    {
      vendor: '0x8086',
      device: '0x10c9',
      class: '0x020000',
      sriov_totalvfs: String(totalvfs),
      sriov_numvfs: '0',
      sriov_offset: '1',
      sriov_stride: '1',
      sriov_drivers_autoprobe: '1',
    },
    { driver: 'igb', group: 3, resource: resourceText({ 0: [0xfe800000n, 0x20000n, 0x40200] }) },
  );
  t.file(`/sys/devices/pci0000:00/${bdf}/sriov_numvfs`, '0\n', 0o444);
  t.file(`/sys/devices/pci0000:00/${bdf}/sriov_drivers_autoprobe`, '1\n', 0o444);
  t.file(`/sys/devices/pci0000:00/${bdf}/driver_override`, '(null)\n', 0o444);
  return root;
}
