// The JSON Schema of a setup plan (`iovh setup PLAN.json`, schema
// iovh-setup/1, docs/bringup.md), published as
// docs/schemas/iovh-setup.schema.json. The shape check; what needs more than
// one field or the kernel's grammar (a PCI address in any of the forms users
// type, a size with units, a VF listed twice) is checked after it in
// src/host/setup-schema.ts.
import { DRIVER_NAME_PATTERN } from '../machine/sysfs.js';
import type { JsonSchema } from './types.js';

export const SETUP_SCHEMA_JSON: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'iovh-setup.schema.json',
  title: 'iovh setup plan (iovh-setup/1)',
  description:
    'The state `iovh setup PLAN.json` brings the machine to: per PF, the number of VFs and per VF its VRAM quota and driver. docs/bringup.md.',
  type: 'object',
  additionalProperties: false,
  required: ['schema', 'pfs'],
  properties: {
    schema: { const: 'iovh-setup/1' },
    pfs: {
      type: 'array',
      minItems: 1,
      description: 'a non-empty array of PFs',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['pf'],
        properties: {
          pf: { type: 'string', description: 'the PF\'s PCI address, like "0000:03:00.0" or "03:00.0"' },
          numvfs: { type: 'integer', minimum: 0, maximum: 0xffff, description: 'a whole number of VFs (0 or more)' },
          vfs: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['vf'],
              properties: {
                vf: {
                  type: 'integer',
                  minimum: 1,
                  maximum: 0xffff,
                  description: 'a VF number from 1 (as in sysfs virtfn0 = VF 1)',
                },
                vram: {
                  type: ['string', 'integer'],
                  minimum: 0,
                  maximum: Number.MAX_SAFE_INTEGER,
                  description: 'a size like "4G", "512MiB", "0x20000000", or a number of bytes',
                },
                driver: {
                  type: ['string', 'null'],
                  pattern: DRIVER_NAME_PATTERN,
                  description:
                    'a driver name such as "vfio-pci" (letters, digits, _ - ., not starting with .), or null for no driver',
                },
              },
            },
          },
        },
      },
    },
  },
};
