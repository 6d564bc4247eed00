// /proc/kallsyms lookups (kernel/kallsyms.c s_show: `%px %c %s[\t[module]]`):
// the indexOf search agrees with splitting every line into fields.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FUNCTION_TYPES, findKallsyms, kallsymsType } from '../../src/uapi/kallsyms.js';

/** The reference: every line split into fields, as the harness did before. */
function reference(text: string, names: string[], types: string | null): Set<string> {
  const listed = new Set<string>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 3) continue;
    if (types === null || types.includes(parts[1]!)) listed.add(parts[2]!);
  }
  return new Set(names.filter((n) => listed.has(n)));
}

describe('kallsyms lookups', () => {
  it('match the name field exactly, with or without a module, and only the asked types', () => {
    const text = [
      '0000000000000000 T __pfx_dma_buf_map_attachment',
      '0000000000000000 T dma_buf_map_attachment_unlocked',
      '0000000000000000 d dma_buf_map_attachment',
      '0000000000000000 t dma_buf_map_attachment\t[vfio_pci_core]',
      'ffffffffc0a00000 W xe_weak',
      'ffffffffc0a00010 b xe_bss\t[xe]',
      'ffffffffc0a00020 T last_line_without_newline',
    ].join('\n');
    expect(kallsymsType(text, 'dma_buf_map_attachment')).toBe('t');
    expect(kallsymsType(text, 'dma_buf_map_attachment', null)).toBe('d');
    expect(kallsymsType(text, 'dma_buf_map')).toBeNull();
    expect(kallsymsType(text, 'map_attachment')).toBeNull();
    expect(kallsymsType(text, 'xe_weak')).toBe('W');
    expect(kallsymsType(text, 'xe_bss')).toBeNull();
    expect(kallsymsType(text, 'xe_bss', null)).toBe('b');
    expect(kallsymsType(text, 'xe')).toBeNull(); // a module name is not a symbol
    expect(kallsymsType(text, 'last_line_without_newline')).toBe('T');
    expect(kallsymsType(text, '')).toBeNull();
    expect([...findKallsyms(text, ['xe_weak', 'nope', 'xe_weak', 'dma_buf_map_attachment'])]).toEqual([
      'xe_weak',
      'dma_buf_map_attachment',
    ]);
  });

  it('agree with splitting every line, over random tables', () => {
    const word = fc.constantFrom('dma', 'buf', 'map', 'xe', 'vfio', 'pci', '__pfx', 'a', 'T', 't');
    const name = fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join('_'));
    const line = fc.record({
      addr: fc.constantFrom('0000000000000000', 'ffffffff81000000', 'ffffffffc0a00000'),
      type: fc.constantFrom('t', 'T', 'w', 'W', 'd', 'D', 'b', 'r', 'A'),
      name,
      module: fc.option(fc.constantFrom('xe', 'vfio_pci_core', 'dma'), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.array(name, { maxLength: 8 }),
        fc.constantFrom(FUNCTION_TYPES, null, 'd'),
        fc.boolean(),
        (lines, names, types, trailing) => {
          const text =
            lines.map((l) => `${l.addr} ${l.type} ${l.name}${l.module ? `\t[${l.module}]` : ''}`).join('\n') +
            (trailing ? '\n' : '');
          expect(findKallsyms(text, names, types)).toEqual(reference(text, names, types));
        },
      ),
      { numRuns: 500 },
    );
  });
});
