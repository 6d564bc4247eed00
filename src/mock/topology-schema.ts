// The JSON Schema of a topology file (`iovh capture` writes it, the mock
// loads it with --topology; schema iovh-topology/1, docs/topology.md),
// published as docs/schemas/iovh-topology.schema.json. It is the shape check:
// every field's type, its form (hex strings for u64 values, a BDF as the
// kernel names it), its range where one field alone decides it, and no field
// the format does not define (a typo such as "totalVfs" must not silently
// take the default). What depends on several fields (BAR alignment and
// overlaps, numvfs against totalvfs, where the VFs land) is checked after it,
// in src/mock/topology.ts parseTopology.
import { MODELLED_OPTIONS } from './kconfig.js';
import { BDF_PATTERN, ROOT_BUS_PATTERN } from '../uapi/bdf.js';
import type { JsonSchema } from '../schema/types.js';

/** A u64 as JSON cannot carry it: a hex string. */
const u64 = { type: 'string', pattern: '^0x[0-9a-fA-F]{1,16}$', description: 'a hex string like "0x1000"' } as const;

/** A hex string of at most `digits` significant digits (a 16-bit ID: 4). */
const hexUpTo = (digits: number, what: string): JsonSchema => ({
  type: 'string',
  pattern: `^0x0*[0-9a-fA-F]{1,${digits}}$`,
  description: `${what} as a hex string of at most ${digits} digits, like "0x${'1'.padStart(digits, '0')}"`,
});

/** A PCI address in the kernel's form (lowercase), `example` the one the description shows. */
const bdf = (example: string): JsonSchema => ({
  type: 'string',
  pattern: `^${BDF_PATTERN}$`,
  description: `a BDF as the kernel names it, like ${example} (lowercase)`,
});

const int = (minimum: number, maximum: number, what = 'an integer'): JsonSchema => ({
  type: 'integer',
  minimum,
  maximum,
  description: `${what} from ${minimum} to ${maximum}`,
});

// The driver core's rule for a name (src/machine/sysfs.ts DRIVER_NAME_PATTERN, which test/schema/published.test.ts
// compares it with), written out here: the mock sits below the machine model and cannot import it.
export const TOPOLOGY_DRIVER_PATTERN = '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$';

const driver = {
  type: ['string', 'null'],
  pattern: TOPOLOGY_DRIVER_PATTERN,
  description: 'a driver name such as "vfio-pci" (1 to 64 of A-Z a-z 0-9 _ . -, not starting with .), or null',
} as const;
const iommuGroup = {
  type: ['integer', 'null'],
  minimum: 0,
  maximum: 1 << 20,
  description: 'an IOMMU group number, or null',
} as const;

const bar = (vf: boolean): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required: ['index', 'start', 'size', 'kind'],
  properties: {
    index: int(0, 5, 'a BAR number'),
    start: u64,
    size: u64,
    kind: { enum: ['mem64', 'mem32', 'io'] },
    prefetchable: { type: 'boolean' },
    ...(vf ? { resizableSizes: u64 } : {}),
  },
});

const sriov: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['totalvfs', 'offset', 'stride', 'vfDevice', 'vfBars'],
  properties: {
    // TotalVFs is a 16-bit field of the SR-IOV capability (drivers/pci/iov.c sriov_init reads PCI_SRIOV_TOTAL_VF as a word).
    totalvfs: int(1, 0xffff, 'a VF count'),
    numvfs: int(0, 0xffff, 'a VF count'),
    offset: int(1, 0xffff, 'a routing ID offset'),
    stride: int(0, 0xffff, 'a routing ID stride'),
    vfDevice: hexUpTo(4, 'a PCI device ID'),
    autoprobe: { type: 'boolean' },
    vfBars: { type: 'array', items: bar(true) },
    vfs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index'],
        properties: {
          index: int(0, 0xffff, 'a VF index'),
          driver,
          driverOverride: driver,
          iommuGroup,
          vramQuota: { anyOf: [u64, { type: 'null' }], description: 'a hex string like "0x40000000", or null' },
        },
      },
    },
  },
};

const xe: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['vram'],
  properties: {
    vram: u64,
    tiles: int(1, 4, 'a tile count'),
    provisioning: { enum: ['sriov_admin', 'debugfs', 'legacy'] },
    vramBlockSize: { anyOf: [u64, { type: 'null' }], description: 'a hex string like "0x200000", or null' },
    pfReserved: u64,
    vramSpare: u64,
    pfMode: { type: 'boolean' },
  },
};

/** iovh's mock GPU (docs/mock-gpu.md): geometry and each VF's PF blocks, as `iovh capture` reads them. */
const mockGpu: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['lmem', 'blockSize', 'vfLmem', 'blocks'],
  properties: {
    lmem: u64,
    blockSize: u64,
    vfLmem: u64,
    blocks: {
      type: 'array',
      maxItems: 63,
      items: { type: 'array', maxItems: 65536, items: int(0, 0xffffffff, 'a block number') },
    },
  },
};

const device: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['bdf', 'vendor', 'device', 'class', 'bars'],
  properties: {
    bdf: bdf('"0000:03:00.0" or "10000:e0:00.0"'),
    vendor: hexUpTo(4, 'a PCI vendor ID'),
    device: hexUpTo(4, 'a PCI device ID'),
    class: hexUpTo(6, 'a PCI class code'),
    subsystemVendor: hexUpTo(4, 'a PCI subsystem vendor ID'),
    subsystemDevice: hexUpTo(4, 'a PCI subsystem device ID'),
    revision: hexUpTo(2, 'a PCI revision'),
    driver,
    driverOverride: driver,
    iommuGroup,
    parent: {
      type: 'string',
      pattern: `^${ROOT_BUS_PATTERN}(/${BDF_PATTERN})*$`,
      description: 'the path under /sys/devices, like "pci0000:00/0000:00:01.0"',
    },
    bars: { type: 'array', items: bar(false) },
    sriov,
    xe,
    mockGpu,
  },
};

export const TOPOLOGY_SCHEMA_JSON: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'iovh-topology.schema.json',
  title: 'iovh mock machine topology (iovh-topology/1)',
  description:
    'A machine for the mock kernel: PCI devices with SR-IOV and xe data, system RAM, the bridges above the devices (ACS), kernel build options. Written by `iovh capture`, loaded with --topology. Field by field: docs/topology.md.',
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'devices'],
  properties: {
    schema: { const: 'iovh-topology/1' },
    machine: { type: 'string', pattern: '^[^\\n]{1,200}$', description: 'one line of 1 to 200 characters' },
    kernel: {
      type: 'object',
      additionalProperties: false,
      properties: {
        release: {
          type: ['string', 'null'],
          pattern: '^[A-Za-z0-9._+~-]{1,64}$',
          description: 'a kernel release like "7.2.0-rfc"',
        },
        cmdline: {
          type: ['string', 'null'],
          pattern: '^[^\\n]{0,4096}$',
          description: 'one line of at most 4096 characters',
        },
        // Build options the mock models (src/mock/kconfig.ts), with or without the CONFIG_ prefix: "y" or "n".
        config: {
          type: 'object',
          propertyNames: { enum: [...MODELLED_OPTIONS, ...MODELLED_OPTIONS.map((o) => `CONFIG_${o}`)] },
          additionalProperties: { enum: ['y', 'n'] },
        },
      },
    },
    ram: {
      type: 'array',
      minItems: 1,
      description: 'a non-empty array of {start, size}',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['start', 'size'],
        properties: { start: u64, size: u64 },
      },
    },
    bridges: {
      type: 'array',
      description: 'the bridges above the devices: root and switch ports (with their ACS capability), host bridges',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['bdf'],
        properties: {
          bdf: bdf('"0000:02:01.0"'),
          vendor: hexUpTo(4, 'a PCI vendor ID'),
          device: hexUpTo(4, 'a PCI device ID'),
          acs: {
            type: ['string', 'null'],
            pattern: '^0x0*[0-9a-fA-F]{1,4}$',
            description: 'the ACS Capability register as a hex string like "0x1f", or null for a port without ACS',
          },
          rootPort: {
            type: 'boolean',
            description: 'a root-bus device off every path (not 00.0): whether it is a root port (pci_host_bridge_dev)',
          },
        },
      },
    },
    devices: { type: 'array', minItems: 1, description: 'a non-empty array of devices', items: device },
  },
};
