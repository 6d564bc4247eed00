// The JSON Schema of a results file (`iovh run --json`, schema iovh-run/1;
// docs/report-schema.md describes each field). It is what `iovh report`,
// `iovh run --resume` and the library's readResults() check a file against
// before anything renders it, and it is published as
// docs/schemas/iovh-run.schema.json (npm run schemas writes it).
//
// Required are the fields every iovh-run/1 report has had and the renderers
// read; fields added later within iovh-run/1 (kernel.shape, running, bootId,
// a scenario's bugs and its baseline's bugs) are optional, so that older
// files still read. Objects whose content is the scenario's own (evidence,
// with its rebootNeeded, otherDevice and routes; capabilities, topology) are
// only required to be objects.
import { PATHS, RUN_SCHEMA, STATUSES, VERDICTS } from '../report/model.js';
import type { JsonSchema } from './types.js';

const str = { type: 'string' } as const;
const strs = { type: 'array', items: str } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const count = { type: 'integer', minimum: 0 } as const;
const ms = { type: 'number', minimum: 0 } as const;
const obj = { type: 'object' } as const;
const status = { enum: [...STATUSES] } as const;
const path = { enum: [...PATHS, null] } as const;

const byKey = (keys: readonly string[]): JsonSchema => ({
  type: 'object',
  required: [...keys],
  properties: Object.fromEntries(keys.map((k) => [k, count])),
});

const scenario: JsonSchema = {
  type: 'object',
  required: [
    'id',
    'title',
    'status',
    'path',
    'expectedPath',
    'reason',
    'skip',
    'quirks',
    'evidence',
    'cleanliness',
    'startedAt',
    'durationMs',
    'timeoutMs',
    'baseline',
    'log',
    'error',
    'cleanup',
  ],
  properties: {
    id: { type: 'string', minLength: 1 },
    title: str,
    status,
    path,
    expectedPath: path,
    reason: str,
    skip: {
      type: ['object', 'null'],
      required: ['capability', 'enable'],
      properties: { capability: str, enable: str },
    },
    quirks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'number', 'title', 'evidence'],
        properties: { id: str, number: { type: ['integer', 'null'] }, title: str, evidence: str },
      },
    },
    // Known bugs of the merged path (src/harness/bugs.ts); written by every iovh that knows them.
    bugs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'title', 'affected', 'fixed', 'evidence'],
        properties: { id: str, title: str, affected: str, fixed: nullableStr, evidence: str },
      },
    },
    evidence: obj,
    cleanliness: {
      type: 'object',
      required: ['kernelComplaints', 'taint', 'kmemleak', 'fdsLeft', 'dmabufsLeft', 'unavailable'],
      properties: {
        kernelComplaints: strs,
        taint: {
          type: 'object',
          required: ['before', 'after', 'added'],
          properties: { before: { type: ['integer', 'null'] }, after: { type: ['integer', 'null'] }, added: strs },
        },
        kmemleak: {
          type: 'object',
          required: ['measured', 'newObjects', 'excerpt'],
          properties: {
            measured: { type: 'boolean' },
            newObjects: { type: ['integer', 'null'] },
            excerpt: strs,
            // Objects kmemleak reported in the window that are not the scenario's (another task's, or off the path).
            elsewhere: { type: 'integer', minimum: 0 },
          },
        },
        fdsLeft: strs,
        dmabufsLeft: strs,
        unavailable: strs,
      },
    },
    startedAt: str,
    durationMs: ms,
    timeoutMs: ms,
    baseline: {
      type: ['object', 'null'],
      required: ['expected', 'quirks', 'verdict', 'note'],
      properties: { expected: status, quirks: strs, bugs: strs, verdict: { enum: [...VERDICTS] }, note: nullableStr },
    },
    log: strs,
    error: {
      type: ['object', 'null'],
      required: ['kind', 'message', 'code', 'stack'],
      properties: { kind: { enum: ['kernel', 'harness'] }, message: str, code: nullableStr, stack: nullableStr },
    },
    cleanup: {
      type: 'object',
      required: ['ran', 'failed'],
      properties: { ran: count, failed: strs },
    },
  },
};

export const RESULTS_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'iovh-run.schema.json',
  title: 'iovh run results (iovh-run/1)',
  description:
    'What `iovh run --json` writes: one run of the validation scenarios, complete or as it stood when the run stopped. Field by field: docs/report-schema.md.',
  type: 'object',
  required: [
    'schema',
    'tool',
    'startedAt',
    'finishedAt',
    'durationMs',
    'kernel',
    'backend',
    'options',
    'capabilities',
    'topology',
    'setup',
    'baseline',
    'scenarios',
    'summary',
    'interrupted',
    'complete',
    'pending',
    'kernelLog',
  ],
  properties: {
    schema: { const: RUN_SCHEMA },
    tool: {
      type: 'object',
      required: ['name', 'version', 'node'],
      properties: { name: { const: 'iovh' }, version: str, node: str },
    },
    startedAt: str,
    finishedAt: str,
    durationMs: ms,
    kernel: {
      type: 'object',
      required: ['release', 'version', 'cmdline'],
      properties: {
        release: nullableStr,
        version: nullableStr,
        cmdline: nullableStr,
        shape: { type: ['object', 'null'], required: ['name', 'summary'], properties: { name: str, summary: str } },
        bootId: nullableStr,
      },
    },
    backend: {
      type: 'object',
      required: ['name', 'reason', 'profile'],
      properties: { name: str, reason: str, profile: nullableStr },
    },
    options: {
      type: 'object',
      required: ['filters', 'timeoutSec', 'pf', 'vf'],
      properties: {
        filters: strs,
        timeoutSec: { type: 'number', exclusiveMinimum: 0 },
        pf: nullableStr,
        vf: nullableStr,
      },
    },
    capabilities: obj,
    topology: obj,
    setup: strs,
    baseline: {
      type: ['object', 'null'],
      required: ['path', 'name', 'profile'],
      properties: { path: str, name: str, profile: nullableStr },
    },
    scenarios: { type: 'array', items: scenario },
    summary: {
      type: 'object',
      required: ['total', 'byStatus', 'byVerdict', 'unexpected', 'exitCode', 'exitReason'],
      properties: {
        total: count,
        byStatus: byKey(STATUSES),
        byVerdict: byKey(VERDICTS),
        unexpected: strs,
        skippedPasses: strs,
        skipsAllowed: { type: 'boolean' },
        exitCode: { type: 'integer', minimum: 0, maximum: 255 },
        exitReason: str,
      },
    },
    interrupted: { type: ['object', 'null'], required: ['signal'], properties: { signal: str } },
    complete: { type: 'boolean' },
    pending: strs,
    running: nullableStr,
    resumed: {
      type: 'array',
      items: {
        type: 'object',
        required: ['startedAt', 'bootId', 'scenarios', 'wentDown'],
        properties: { startedAt: str, bootId: nullableStr, scenarios: strs, wentDown: strs },
      },
    },
    kernelLog: strs,
  },
};
