import { describe, expect, it } from 'vitest';
import { BufinfoParseError, parseBufinfo } from '../../src/uapi/bufinfo.js';

// dma_buf_debug_show's layout (drivers/dma-buf/dma-buf.c; docs/kernel.md §10).
const SAMPLE = [
  '',
  'Dma-buf Objects:',
  'size    \tflags   \tmode    \tcount   \texp_name\tino     \tname',
  '02097152\t00000002\t00080007\t00000003\tvfio_pci_core\t00012345\tiovh-r0',
  '\tbookkeep fence: xe 0000:03:00.0 seq 12 signalled',
  '\tAttached Devices:',
  '\t0000:03:00.0',
  'Total 1 devices attached',
  '',
  '00004096\t00000002\t00080007\t00000001\tudmabuf\t00000077\t<none>',
  '\tAttached Devices:',
  'Total 0 devices attached',
  '',
  '',
  'Total 2 objects, 2101248 bytes',
  '',
].join('\n');

describe('parseBufinfo', () => {
  it('reads every object with its fences and attachments, and the totals', () => {
    const b = parseBufinfo(SAMPLE);
    expect(b.totalObjects).toBe(2);
    expect(b.totalBytes).toBe(2101248n);
    expect(b.objects).toHaveLength(2);
    expect(b.objects[0]).toEqual({
      size: 2097152n,
      flags: 2,
      mode: 0x80007,
      count: 3,
      expName: 'vfio_pci_core',
      ino: 12345,
      name: 'iovh-r0',
      fences: ['bookkeep fence: xe 0000:03:00.0 seq 12 signalled'],
      attached: ['0000:03:00.0'],
    });
    expect(b.objects[1]).toMatchObject({ size: 4096n, expName: 'udmabuf', ino: 77, name: null, attached: [] });
  });

  it('takes an empty name (older kernels) as no name', () => {
    const b = parseBufinfo(
      'Dma-buf Objects:\n00004096\t00000002\t00080007\t00000001\txe\t00000009\t\n\tAttached Devices:\nTotal 0 devices attached\n\nTotal 1 objects, 4096 bytes\n',
    );
    expect(b.objects[0]!.name).toBeNull();
  });

  it('leaves the totals null when the file was cut short', () => {
    const cut = SAMPLE.slice(0, SAMPLE.indexOf('Total 2 objects'));
    expect(parseBufinfo(cut)).toMatchObject({ totalObjects: null, totalBytes: null });
  });

  it('parses an empty list', () => {
    expect(
      parseBufinfo(
        '\nDma-buf Objects:\nsize    \tflags   \tmode    \tcount   \texp_name\tino     \tname\n\nTotal 0 objects, 0 bytes\n',
      ),
    ).toEqual({
      objects: [],
      totalObjects: 0,
      totalBytes: 0n,
    });
  });

  it('rejects a device count that disagrees with the list, and stray lines', () => {
    expect(() => parseBufinfo(SAMPLE.replace('Total 1 devices attached', 'Total 2 devices attached'))).toThrow(
      BufinfoParseError,
    );
    expect(() => parseBufinfo('garbage\n')).toThrow(/line 1/);
    expect(() => parseBufinfo('\tAttached Devices:\n')).toThrow(/outside an object/);
  });
});
