// A guest's results as steps: what `iovh qemu`'s guest program
// (src/qemu/guest.ts) and the CI guest program (test/qemu/guest/flow.mjs,
// which loads this file from dist/) both report, one result per step, for the
// host's verdict (scripts/qemu-ci/verdict.mjs, docs/report-schema.md).

export interface GuestStep {
  id: string;
  title: string;
  status: 'pass' | 'fail' | 'skip' | 'warn' | 'crash';
  path: string | null;
  errno: string | null;
  detail: string;
  ms: number;
  /** For a harness result, the known bugs it named (src/harness/bugs.ts): the host judges it against the kernel's baseline. */
  bugs?: string[];
  /** And the quirks. */
  quirks?: string[];
}

/** What a guest step needs of one scenario of `iovh run --json` (docs/report-schema.md). */
export interface HarnessScenario {
  id: string;
  title: string;
  status: string;
  path: string | null;
  reason: string;
  error: { code: string | null } | null;
  durationMs: number;
  bugs?: { id: string }[];
  quirks?: { id: string }[];
}

/**
 * The harness's result for one of its scenarios as a step: status and path as
 * the harness judged them, errno the code of the error that ended the
 * scenario. A timeout is a failure: the host's verdict has no timeout status
 * per scenario. The bugs and quirks it named go along, for the host to judge
 * the result against the shipped baseline of the kernel's shape
 * (scripts/qemu-ci/boot.mjs baselineJudge).
 */
export function fromHarness(s: HarnessScenario): GuestStep {
  const status = (s.status === 'timeout' ? 'fail' : s.status) as GuestStep['status'];
  const bugs = (s.bugs ?? []).map((b) => b.id);
  const quirks = (s.quirks ?? []).map((q) => q.id);
  return {
    id: `run:${s.id}`,
    title: s.title,
    status,
    path: s.path,
    errno: s.error?.code ?? null,
    detail: s.status === 'timeout' ? `timeout: ${s.reason}` : s.reason,
    ms: Math.round(s.durationMs * 10) / 10,
    ...(bugs.length ? { bugs } : {}),
    ...(quirks.length ? { quirks } : {}),
  };
}
