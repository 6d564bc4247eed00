// `iovh profiles [--json]`: the kernels the mock models, one per kernel line
// and interconnect revision (src/mock/profiles.ts, docs/profiles.md): what
// each is, the kernel-shape row a real kernel of that kind matches, what
// differs from the others, the defects it carries and its shipped baseline.
// Reads nothing from the machine.
import type { Command } from 'commander';
import { DEFAULT_PROFILE, PROFILE_ALIASES, PROFILES, type ProfileDef } from '../../backend/select.js';
import { shippedBaselinePath } from '../../harness/baseline.js';
import { EXIT } from '../../report/exit.js';
import { stdio } from '../state-change.js';

const fixedText = (v: readonly number[]): string => v.join('.');

function profileJson(p: ProfileDef) {
  return {
    name: p.name,
    aliases: Object.entries(PROFILE_ALIASES)
      .filter(([, to]) => to === p.name)
      .map(([a]) => a),
    default: p.name === DEFAULT_PROFILE,
    kernel: p.kernel,
    release: p.release,
    shape: p.shape,
    base: p.base,
    series: p.series,
    differs: p.differs,
    quirks: p.quirks.map((q) => ({ id: q.id, fixedIn: q.fixedIn ? fixedText(q.fixedIn) : null })),
    sources: p.sources,
    baseline: shippedBaselinePath(p.name),
  };
}

export function renderProfiles(): string {
  const out: string[] = [];
  for (const p of PROFILES) {
    const j = profileJson(p);
    const tags = [...j.aliases.map((a) => `alias ${a}`), ...(j.default ? ['the default'] : [])];
    out.push(`${p.name}${tags.length > 0 ? ` (${tags.join(', ')})` : ''}: ${p.kernel}`);
    out.push(`  uname -r ${p.release}; kernel shape ${p.shape}; vfio and dma-buf of ${p.base}`);
    for (const d of p.differs) out.push(`  - ${d}`);
    const quirks = j.quirks.map((q) => (q.fixedIn ? `${q.id} (before ${q.fixedIn})` : q.id));
    out.push(`  defects: ${quirks.length > 0 ? quirks.join(', ') : 'none'}`);
  }
  return `${out.join('\n')}\n`;
}

export function registerProfiles(program: Command, setStatus: (code: number) => void): Command {
  return program
    .command('profiles')
    .description('list the kernels the mock models (--profile), with what differs between them')
    .option('--json', 'print JSON (schema iovh-profiles/1)')
    .action((_o: unknown, cmd: Command) => {
      const opts = cmd.opts() as { json?: boolean };
      stdio.out(
        opts.json === true
          ? `${JSON.stringify({ schema: 'iovh-profiles/1', profiles: PROFILES.map(profileJson) }, null, 2)}\n`
          : renderProfiles(),
      );
      setStatus(EXIT.OK);
    });
}
