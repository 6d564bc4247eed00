// `iovh doctor` on the mock names the profile it boots and the kernel shape
// that profile's /proc/kallsyms and release give (src/shape): the same
// detector a real kernel meets, so `fixed` (the RFC v1 names) reads as rfc-v1.
import { describe, expect, it } from 'vitest';
import { iovh } from '../cli/run-cli.js';

interface DoctorJson {
  backend: { name: string; profile: string | null };
  checks: { id: string; status: string; detail: string }[];
}

const CASES: [profile: string, shape: string, iov: boolean][] = [
  ['upstream-6.19', 'upstream-6.19', false],
  ['upstream-7.0', 'upstream-7.0', false],
  ['upstream-7.1', 'upstream-7.1', false],
  ['upstream', 'upstream-7.1', false],
  ['rfc-v1', 'rfc-v1', true],
  ['rfc-v2', 'rfc-v2', true],
  ['maptype-rfc', 'maptype-rfc', false],
  ['fixed', 'rfc-v1', true],
];

describe('iovh doctor on the mock', () => {
  it.for(CASES)('--profile %s: names the profile and the kernel shape %s', async ([profile, shape, iov]) => {
    const r = await iovh('doctor', '--backend', 'mock', '--profile', profile, '--json');
    expect(r.stderr).toBe('');
    const json = JSON.parse(r.stdout) as DoctorJson;
    expect(json.backend.profile).toBe(profile === 'upstream' ? 'upstream-7.1' : profile);
    const check = json.checks.find((c) => c.id === 'kernel.shape')!;
    expect(check.detail).toMatch(
      new RegExp(`^kernel shape: ${shape} — ${iov ? 'IOV import path' : 'no IOV import path'}`),
    );
    expect(check.status).toBe(iov ? 'pass' : 'warn');
    const human = await iovh('doctor', '--backend', 'mock', '--profile', profile);
    expect(human.stdout.split('\n')[0]).toMatch(/^backend: mock \(.*\), kernel profile [a-z0-9.-]+$/);
  });
});
