// boot() against a stand-in for qemu-system-x86_64: a small node program that
// reads the same arguments (the nonce and the results share) and behaves like
// a guest that passes, fails, panics, hangs, stays silent or dies early.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { boot } from '../../scripts/qemu-ci/boot.mjs';
import { cachePaths } from '../../scripts/qemu-ci/paths.mjs';
import { pickVariants } from '../../scripts/qemu-ci/variants.mjs';
import { scratchDir } from '../support/scratch.js';

let dir = '';
const variant = pickVariants(['igb-intel-iommu'])[0]!;

const FAKE = `
const args = process.argv.slice(2);
const after = (flag, re) => args.filter((_, i) => args[i - 1] === flag).find((v) => re.test(v));
const append = after('-append', /./);
const nonce = /iovh\\.nonce=(\\S+)/.exec(append)[1];
const results = /path=(.*?),security_model/.exec(after('-fsdev', /id=results/))[1].replaceAll(',,', ',');
const channel = /^file,id=verdict,path=(.*)$/.exec(after('-chardev', /id=verdict/))[1].replaceAll(',,', ',');
// The console (ttyS0) is stdout; what the guest's /init and program say goes to the channel (ttyS1) and the console.
const out = (s) => process.stdout.write(s + '\\r\\n');
const say = (s) => { out(s); require('fs').appendFileSync(channel, s + '\\r\\n'); };
const write = (scenarios) => require('fs').writeFileSync(results + '/results.json', JSON.stringify({ nonce, scenarios }));
const ok = [{ id: 'vfio.open', status: 'pass', detail: 'ok' }];
out('[    0.000000] Linux version 7.2.13+deb14-amd64');
say('IOVH-QEMU 4.10 init variant=igb-intel-iommu');
switch (MODE) {
  case 'pass': write(ok); say('IOVH-VERDICT ' + nonce + ' rc=0'); break;
  case 'fail': write([...ok, { id: 'errno.past-end', status: 'fail', errno: 'ENODEV', detail: 'expected EINVAL, got ENODEV' }]); say('IOVH-VERDICT ' + nonce + ' rc=1'); break;
  // A verdict on the console only (printk, or a program writing to the console) is not the guest's verdict.
  case 'console-only': write(ok); out('IOVH-VERDICT ' + nonce + ' rc=0'); break;
  case 'panic': out('[    5.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100'); break;
  case 'hang': setInterval(() => {}, 1000); break;
  case 'crash': process.exitCode = 1; break;
  case 'silent-exit': break;
}
`;

function fake(mode: string): string {
  const file = join(dir, `qemu-${mode}`);
  const body = mode === 'silent-exit' ? `process.exitCode = 1;` : FAKE.replace('MODE', JSON.stringify(mode));
  writeFileSync(file, `#!${process.execPath}\n${body}`);
  chmodSync(file, 0o755);
  return file;
}

async function run(mode: string, timeoutSeconds = 60) {
  return boot({
    variant,
    qemu: fake(mode),
    kernel: '/nonexistent/vmlinuz',
    initrd: '/nonexistent/initrd',
    paths: cachePaths(join(dir, 'cache')),
    timeoutSeconds,
  });
}

beforeAll(() => {
  dir = scratchDir('iovh-boot-');
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('boot', () => {
  it('passes a guest that writes good results and its verdict, and keeps the log', async () => {
    const r = await run('pass');
    expect(r.status).toBe('pass');
    expect(r.verdictSeconds).not.toBeNull();
    expect(r.results?.scenarios.map((s) => s.id)).toEqual(['vfio.open']);
    const log = readFileSync(r.logPath, 'utf8');
    expect(log).toContain('IOVH-QEMU 4.10 init');
    expect(log).toMatch(/^# .*qemu-pass .*-append/m);
    expect(readFileSync(join(dir, 'cache', 'logs', `${variant.name}.latest.log`), 'utf8')).toBe(log);
  });

  it('reads the verdict from the channel (the second serial port) only', async () => {
    const r = await run('console-only');
    expect(r.status).toBe('crash');
    expect(r.reason).toContain('without a verdict');
    expect(readFileSync(r.channelPath, 'utf8')).toContain('IOVH-QEMU 4.10 init');
    const p = await run('pass');
    expect(readFileSync(p.channelPath, 'utf8')).toMatch(/^IOVH-VERDICT [0-9a-f]{16} rc=0\r$/m);
  });

  it('fails a guest whose scenario failed and names the scenario', async () => {
    const r = await run('fail');
    expect(r.status).toBe('fail');
    expect(r.reason).toContain('errno.past-end: fail (expected EINVAL, got ENODEV)');
  });

  it('reports a panic with the panic line', async () => {
    const r = await run('panic');
    expect(r.status).toBe('panic');
    expect(r.reason).toContain('Attempted to kill init');
    expect(r.logTail).toContain('Kernel panic');
  });

  it('stops a hung guest at the wall-clock limit and says where it was', async () => {
    // The limit counts from QEMU's start: it must leave the stand-in (a node process) time to print its first
    // line even on a loaded machine, or the guest reads as silent (1 s did not, under a load average of 25).
    const r = await run('hang', 8);
    expect(r.status).toBe('hang');
    expect(r.reason).toContain('no verdict after 8 s');
    expect(r.reason).toContain('init variant=igb-intel-iommu');
  });

  it('reports an exit without a verdict as a crash, and no output at all as silent', async () => {
    expect((await run('crash')).status).toBe('crash');
    const s = await run('silent-exit');
    expect(s.status).toBe('silent');
    expect(s.reason).toContain('printed nothing');
  });

  it('reports a QEMU that cannot start', async () => {
    const r = await boot({
      variant,
      qemu: join(dir, 'no-such-qemu'),
      kernel: '/k',
      initrd: '/i',
      paths: cachePaths(join(dir, 'cache')),
    });
    expect(r.status).toBe('error');
    expect(r.reason).toContain('cannot start');
  });
});
