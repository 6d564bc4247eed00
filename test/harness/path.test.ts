import { describe, expect, it } from 'vitest';
import { classifyPath } from '../../src/harness/path.js';
import { argValue, isErrValue, parseTraceLine, type TraceHit } from '../../src/harness/tracefs.js';
import { REVISIONS, SG_PROBES, scanSymbols, tableSymbols } from '../../src/harness/symbols.js';
import { detectShape } from '../../src/shape/index.js';
import type { ProbeKey } from '../../src/harness/symbols.js';

const ALL = new Set<ProbeKey>([
  'match',
  'exporterMatch',
  'importerOffers',
  'mapInterconnect',
  'exporterMapInterconnect',
  'translate',
  'translateRet',
  'unmapInterconnect',
  'exporterSgMap',
  'sgMap',
]);

function hit(key: ProbeKey, args: Record<string, string> = {}): TraceHit {
  return { key, event: `${key}_x`, task: 'node', pid: 1, timestamp: 1, site: 'x', args };
}

describe('ftrace lines', () => {
  it('parses entry and return probe lines with the flags column', () => {
    const e = parseTraceLine(
      '            node-4242    [000] ..... 12345.000123: translate_e: (xe_gt_sriov_pf_config_get_lmem_obj+0x0/0x60 [xe]) vfid=1',
    );
    expect(e).toMatchObject({
      task: 'node',
      pid: 4242,
      event: 'translate_e',
      site: 'xe_gt_sriov_pf_config_get_lmem_obj+0x0/0x60 [xe]',
      args: { vfid: '1' },
    });
    const r = parseTraceLine(
      ' iovh worker-77 [003] d..1. 9.5: match_r: (xe_dma_buf_supports_interconnects+0x4d/0x70 [xe] <- dma_buf_match_interconnects) ret=0x1',
    );
    expect(r).toMatchObject({ task: 'iovh worker', pid: 77, event: 'match_r', args: { ret: '0x1' } });
    const noFlags = parseTraceLine(
      '           <...>-12    [001]   100.000001: sgMap_e: (dma_buf_map_attachment+0x0/0x1c0) name="a b"',
    );
    expect(noFlags).toMatchObject({ pid: 12, event: 'sgMap_e', args: { name: 'a b' } });
    expect(parseTraceLine('# tracer: nop')).toBeNull();
    expect(parseTraceLine('garbage')).toBeNull();
  });

  it('reads fetch-arg values and error pointers', () => {
    expect(argValue('0x10')).toBe(16n);
    expect(argValue('-22')).toBe(-22n);
    expect(argValue('"x"')).toBeNull();
    expect(isErrValue(0xffffffffffffffean)).toBe(true);
    expect(isErrValue(-22n)).toBe(true);
    expect(isErrValue(0xffff888012345678n)).toBe(false);
  });

  it("kallsyms: the table's functions only, module suffixes ignored, nothing else kept", () => {
    const filler = Array.from(
      { length: 20000 },
      (_, i) => `ffffffff81${i.toString(16).padStart(6, '0')} t helper_${i}\n`,
    ).join('');
    const text =
      'ffffffff81000000 T _text\n' +
      filler +
      'ffffffffc0a00000 t vfio_pci_dma_buf_map\t[vfio_pci_core]\n' +
      'ffffffff82000000 D dma_buf_map_attachment_data\n' +
      'ffffffff82000010 T __pfx_dma_buf_match_interconnects\n' +
      'ffffffff82000020 d dma_buf_map_interconnect\n' +
      'ffffffff82000030 T dma_buf_map_attachment\n';
    const scan = scanSymbols(
      text,
      null,
      detectShape({ kallsyms: text, probe: { result: 'not run', why: 'test' }, release: '7.2.13' }),
    );
    // What kprobes may be armed on: present table functions, not the 20,000 others the kernel lists.
    expect([...scan.symbols].sort()).toEqual(['dma_buf_map_attachment', 'vfio_pci_dma_buf_map']);
    expect(scan.sg).toEqual({ present: ['vfio_pci_dma_buf_map', 'dma_buf_map_attachment'], missing: [] });
    expect(scan.revision).toBeNull(); // a data symbol and a __pfx_ twin are not the markers
    expect(REVISIONS[0]!.markers.every((m) => REVISIONS[0]!.probes.some((p) => p.symbol === m))).toBe(true);
    expect(tableSymbols()).toEqual(
      expect.arrayContaining([...REVISIONS[0]!.markers, ...SG_PROBES.map((p) => p.symbol)]),
    );
  });
});

describe('path classification', () => {
  const iovHits = [
    hit('match', { ret: '0x1' }),
    hit('mapInterconnect', { ret: '0xffff888012340000' }),
    hit('translate', { vfid: '2' }),
    hit('translateRet', { ret: '0xffff888100000000' }),
  ];

  it('iov: negotiated, mapped and translated, with the vfid', () => {
    const v = classifyPath({ refused: null, hits: iovHits, armed: ALL });
    expect(v.path).toBe('iov');
    expect(v.lookupVfids).toEqual([2]);
  });

  it('a bool return is its low byte: junk in the upper bytes of RAX neither makes nor hides a match', () => {
    // x86-64 returns a C bool in %al only; a kretprobe's $retval fetched as x64 shows what the function left above it.
    const noMatch = classifyPath({
      refused: null,
      hits: [hit('exporterMatch', { ret: '0xffff888104a3c200' }), hit('match', { ret: '0xffff888104a3c200' })],
      armed: ALL,
    });
    expect(noMatch.negotiated).toBe(false);
    expect(noMatch.path).toBe('unknown');
    const matched = classifyPath({
      refused: null,
      hits: [
        hit('match', { ret: '0xffff888104a3c201' }),
        hit('translate', { vfid: '1' }),
        hit('translateRet', { ret: '0x0' }),
      ],
      armed: ALL,
    });
    expect(matched.negotiated).toBe(true);
    expect(matched.path).toBe('untranslated');
    // Fetched as u8 (the probe table asks for $retval:u8) the kernel prints the low byte in decimal.
    expect(classifyPath({ refused: null, hits: [hit('exporterMatch', { ret: '1' })], armed: ALL }).negotiated).toBe(
      true,
    );
  });

  it('a fallback to scatter-gather is p2p, never iov', () => {
    expect(classifyPath({ refused: null, hits: [...iovHits, hit('exporterSgMap')], armed: ALL }).path).toBe('p2p');
    expect(classifyPath({ refused: null, hits: [hit('sgMap')], armed: ALL }).why).toBe(
      'the ordinary scatter-gather map ran (dma_buf_map_attachment)',
    );
  });

  it('negotiated without translation or sg table is untranslated (quirk 2)', () => {
    const v = classifyPath({
      refused: null,
      hits: [hit('match', { ret: '0x1' }), hit('mapInterconnect', { ret: '0xffff888012340000' })],
      armed: ALL,
    });
    expect(v.path).toBe('untranslated');
    expect(v.why).toMatch(/no LMEM-object lookup happened/);
    const nullLookup = classifyPath({
      refused: null,
      hits: [hit('match', { ret: '1' }), hit('translate', { vfid: '1' }), hit('translateRet', { ret: '0x0' })],
      armed: ALL,
    });
    expect(nullLookup.path).toBe('untranslated');
    expect(nullLookup.why).toMatch(/vfid 1 returned NULL/);
  });

  it('an errno at any step is refused; silence is unknown, with why', () => {
    expect(
      classifyPath({ refused: { step: 'PRIME import', code: 'EOPNOTSUPP' }, hits: iovHits, armed: ALL }).path,
    ).toBe('refused');
    expect(classifyPath({ refused: null, hits: [], armed: ALL }).why).toMatch(/none of the armed probes/);
    expect(classifyPath({ refused: null, hits: [], armed: new Set() }).why).toBe(
      'no probe that could tell the path could be armed',
    );
    expect(classifyPath({ refused: null, hits: [hit('match', { ret: '0x0' })], armed: ALL }).path).toBe('unknown');
  });
});

describe('the P2P route (pci_p2pdma_map_type, drivers/pci/p2pdma.c)', () => {
  // enum pci_p2pdma_map_type (include/linux/pci-p2pdma.h): NONE 1, NOT_SUPPORTED 2, BUS_ADDR 3, THRU_HOST_BRIDGE 4.
  it.each([
    ['0x3', 'bus address'],
    ['0x4', 'host bridge'],
  ] as const)('a p2p map after a decision %s reports the route %s', (ret, route) => {
    const v = classifyPath({ refused: null, hits: [hit('p2pRoute', { ret }), hit('exporterSgMap')], armed: ALL });
    expect(v).toMatchObject({ path: 'p2p', route });
    expect(v.why).toMatch(new RegExp(`P2P route: ${route} \\(pci_p2pdma_map_type\\)$`));
  });

  it("NOT_SUPPORTED is the refusal's route; no decision seen is no route, the last decision counts", () => {
    const refused = classifyPath({
      refused: { step: 'VM bind', code: 'EINVAL' },
      hits: [hit('p2pRoute', { ret: '0x2' })],
      armed: ALL,
    });
    expect(refused).toMatchObject({ path: 'refused', route: 'not supported' });
    expect(classifyPath({ refused: null, hits: [hit('exporterSgMap')], armed: ALL }).route).toBeNull();
    const two = [hit('p2pRoute', { ret: '0x2' }), hit('p2pRoute', { ret: '0x3' }), hit('sgMap')];
    expect(classifyPath({ refused: null, hits: two, armed: ALL }).route).toBe('bus address');
  });
});
