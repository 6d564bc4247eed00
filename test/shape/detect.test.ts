import { describe, expect, it } from 'vitest';
import { detectShape, parseRelease, shapeRows, type ShapeRow } from '../../src/shape/index.js';

const NOT_RUN = { result: 'not run', why: 'test' } as const;

/** /proc/kallsyms text listing `funcs` as global functions and `data` as initialised data, with filler around them. */
function kallsyms(funcs: readonly string[], data: readonly string[] = []): string {
  const lines = ['ffffffff81000000 T _text', 'ffffffff81000010 t __pfx_dma_buf_attach_revocable'];
  funcs.forEach((f, i) => lines.push(`ffffffff8100${(0x100 + i).toString(16)} T ${f}`));
  data.forEach((d, i) => lines.push(`ffffffff8200${(0x100 + i).toString(16)} D ${d}`));
  lines.push('ffffffffc0a00000 t xe_bo_move\t[xe]');
  return `${lines.join('\n')}\n`;
}

/** What a kernel of `row` lists: its required names, the data ones as data. */
function kernelOf(row: ShapeRow): string {
  const data = row.require.filter((s) => s === 'iov_interconnect');
  return kallsyms(
    row.require.filter((s) => s !== 'iov_interconnect'),
    data,
  );
}

const releaseOf = (row: ShapeRow): string => (row.lines ? `${row.lines[0]!.join('.')}.3-test` : '7.2.13-test');

describe('kernel shape detection', () => {
  it('each row is recognised from its own symbols and release, and no other row matches them', () => {
    for (const row of shapeRows()) {
      const s = detectShape({ kallsyms: kernelOf(row), probe: { result: 'supported' }, release: releaseOf(row) });
      expect(s.name, row.name).toBe(row.name);
      expect(s.summary.startsWith(`${row.name} — `)).toBe(true);
      // The rows are disjoint: the same symbols fail every other row's require, forbid or line.
      const others = shapeRows().filter((r) => r.name !== row.name);
      const alone = detectShape({ kallsyms: kernelOf(row), probe: NOT_RUN, release: releaseOf(row) }, others);
      expect(alone.name, `${row.name} against the other rows`).toBe('unknown');
    }
  });

  it("today's line (7.2.13, Debian's release string) is upstream-7.1 with no IOV path", () => {
    const s = detectShape({
      kallsyms: kallsyms(['dma_buf_invalidate_mappings', 'dma_buf_attach_revocable', 'dma_buf_phys_vec_to_sgt']),
      probe: { result: 'supported' },
      release: '7.2.13+deb14-amd64',
    });
    expect(s.name).toBe('upstream-7.1');
    expect(s.summary).toBe('upstream-7.1 — no IOV import path: xe imports a VF BAR as P2P');
    expect(s.iov).toBeNull();
    expect(s.version).toEqual([7, 2, 13]);
    expect(s.evidence.seen).toEqual([
      'dma_buf_attach_revocable',
      'dma_buf_invalidate_mappings',
      'dma_buf_phys_vec_to_sgt',
    ]);
  });

  it('6.19 and 7.0 list the same names: the release decides, and without one the shape stays unknown', () => {
    const text = kallsyms(['dma_buf_move_notify', 'dma_buf_phys_vec_to_sgt']);
    expect(detectShape({ kallsyms: text, probe: NOT_RUN, release: '6.19.2' }).name).toBe('upstream-6.19');
    expect(detectShape({ kallsyms: text, probe: NOT_RUN, release: '7.0.0-rc3' }).name).toBe('upstream-7.0');
    const none = detectShape({ kallsyms: text, probe: NOT_RUN, release: null });
    expect(none.name).toBe('unknown');
    expect(none.evidence.why).toMatch(/upstream-6.19 and upstream-7.0, which only the release tells apart/);
    // A 6.12 kernel has dma_buf_move_notify too, and no vfio dma-buf export: no row, never "the nearest".
    const old = detectShape({ kallsyms: text, probe: { result: 'errno', code: 'ENOTTY' }, release: '6.12.9' });
    expect(old.name).toBe('unknown');
    expect(old.summary).toBe(
      'unknown — symbols seen: dma_buf_move_notify, dma_buf_phys_vec_to_sgt; release 6.12.9; PROBE|GET DMA_BUF failed with ENOTTY',
    );
  });

  it('RFC v2 is told from v1 by its exported data symbol iov_interconnect; a function of that name does not count', () => {
    const rfc = ['dma_buf_match_interconnects', 'dma_buf_map_interconnect', 'dma_buf_invalidate_mappings'];
    expect(detectShape({ kallsyms: kallsyms(rfc, ['iov_interconnect']), probe: NOT_RUN, release: '7.2.13' }).name).toBe(
      'rfc-v2',
    );
    expect(detectShape({ kallsyms: kallsyms(rfc), probe: NOT_RUN, release: '7.2.13' }).name).toBe('rfc-v1');
    expect(
      detectShape({ kallsyms: kallsyms([...rfc, 'iov_interconnect']), probe: NOT_RUN, release: '7.2.13' }).name,
    ).toBe('rfc-v1');
    // __pfx_ twins and data objects never stand for a function marker.
    const twins = kallsyms([], ['dma_buf_match_interconnects']).replace(
      'T _text',
      'T _text\nffffffff81000020 T __pfx_dma_buf_map_interconnect',
    );
    expect(detectShape({ kallsyms: twins, probe: NOT_RUN, release: '7.2.13' }).name).toBe('unknown');
  });

  it('the mapping-type kernel has no IOV path until a lab names the IOV type in its row', () => {
    const text = kallsyms([
      'dma_buf_mapping_attach',
      'dma_buf_match_mapping',
      'dma_buf_sgt_dynamic_attach',
      'dma_buf_invalidate_mappings',
      'dma_buf_attach_revocable',
      'lab_iov_match',
    ]);
    const s = detectShape({ kallsyms: text, probe: NOT_RUN, release: '7.1.0-maptype' });
    expect(s.name).toBe('maptype-rfc');
    expect(s.iov).toBeNull();
    expect(s.summary).toMatch(/^maptype-rfc — no IOV import path: xe imports through SGT_P2P/);
    // The row a lab edits: the IOV type's marker and probes, and the same kernel now has the path.
    const rows = shapeRows().map((r) =>
      r.name === 'maptype-rfc' ? { ...r, iov: { name: 'maptype-iov', markers: ['lab_iov_match'], probes: [] } } : r,
    );
    const edited = detectShape({ kallsyms: text, probe: NOT_RUN, release: '7.1.0-maptype' }, rows);
    expect(edited.iov?.name).toBe('maptype-iov');
    expect(edited.summary).toBe('maptype-rfc — IOV import path: maptype-iov');
  });

  it('the PROBE says when the export is missing, and an unreadable kallsyms is unknown', () => {
    const text = kallsyms(['dma_buf_invalidate_mappings', 'dma_buf_attach_revocable']);
    expect(detectShape({ kallsyms: text, probe: { result: 'errno', code: 'ENOTTY' }, release: '7.2.1' }).summary).toBe(
      'upstream-7.1 — no IOV import path: xe imports a VF BAR as P2P; no VFIO dma-buf export (PROBE: ENOTTY, CONFIG_VFIO_PCI_DMABUF off)',
    );
    const u = detectShape({ kallsyms: null, kallsymsError: 'EACCES', probe: NOT_RUN, release: '7.2.1' });
    expect(u.name).toBe('unknown');
    expect(u.evidence.kallsyms).toBe('EACCES');
  });

  it('parses the releases kernels print', () => {
    expect(parseRelease('7.2.13+deb14-amd64')).toEqual([7, 2, 13]);
    expect(parseRelease('7.3.0-rc7')).toEqual([7, 3, 0]);
    expect(parseRelease('6.19')).toEqual([6, 19, 0]);
    expect(parseRelease('linux')).toBeNull();
    expect(parseRelease(null)).toBeNull();
  });
});
