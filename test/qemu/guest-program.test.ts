// The guest program of `iovh qemu` (src/qemu/guest.ts): its arguments, and
// how the harness's results become the steps the host's verdict reads.
import { describe, expect, it } from 'vitest';
import { parseGuestArgs } from '../../src/qemu/guest.js';
import { fromHarness } from '../../src/qemu/steps.js';

describe('iovh qemu guest program', () => {
  it('takes --name value pairs from /init, --filter repeatable', () => {
    expect(
      parseGuestArgs([
        '--out',
        '/run/iovh-results/results.json',
        '--nonce',
        'abc',
        '--variant',
        'igb-intel-iommu',
        '--numvfs',
        '2',
        '--repo',
        '/work/iovh',
        '--filter',
        'export/*',
        '--filter',
        '!export/whole-bar',
        '--timeout',
        '30',
      ]),
    ).toEqual({
      out: '/run/iovh-results/results.json',
      nonce: 'abc',
      variant: 'igb-intel-iommu',
      numvfs: 2,
      filters: ['export/*', '!export/whole-bar'],
      timeout: '30',
    });
    expect(() => parseGuestArgs(['--out', 'x', '--nonce'])).toThrow(/expected --name value pairs/);
    expect(() => parseGuestArgs(['--out', 'x', '--nonce', 'n'])).toThrow('missing --variant');
    expect(() => parseGuestArgs(['--out', 'x', '--nonce', 'n', '--variant', 'v', '--numvfs', '0'])).toThrow(
      /--numvfs must be a positive integer/,
    );
  });

  it('keeps the harness status, path and errno; a timeout fails', () => {
    const s = {
      id: 'lifecycle/revoke-on-reset',
      title: 'reset revokes',
      status: 'warn',
      path: null,
      reason: 'kernel complained: BUG: KASAN: slab-use-after-free in get_file_active+0x4a/0xe0',
      error: null,
      durationMs: 1234.56,
    };
    expect(fromHarness(s)).toEqual({
      id: 'run:lifecycle/revoke-on-reset',
      title: 'reset revokes',
      status: 'warn',
      path: null,
      errno: null,
      detail: s.reason,
      ms: 1234.6,
    });
    const refused = fromHarness({
      ...s,
      id: 'import/non-p2p-importer',
      status: 'fail',
      path: 'refused',
      reason: 'EINVAL at import',
      error: { code: 'EINVAL' },
    });
    expect([refused.status, refused.path, refused.errno]).toEqual(['fail', 'refused', 'EINVAL']);
    expect(fromHarness({ ...s, status: 'timeout', reason: 'ran 60 s' })).toMatchObject({
      status: 'fail',
      detail: 'timeout: ran 60 s',
    });
  });
});
