import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { escapeControls, shellLine, shellWord } from '../../src/host/quote.js';

/** What bash makes of a command line's words (each printed between NULs). */
function bashWords(line: string): string[] {
  const r = spawnSync('bash', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

describe('shell words', () => {
  const words = [
    '/tmp/plain-1.json',
    'a b',
    "it's",
    'm\nx.json',
    'tab\there',
    '$HOME',
    '`id`',
    'back\\slash',
    "'",
    '',
    '\x7f',
    'é/ü.json',
    '*',
  ];

  it('read back by bash as the same word, on one line', () => {
    for (const w of words) {
      const q = shellWord(w);
      expect(q, JSON.stringify(w)).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(bashWords(q), JSON.stringify(w)).toEqual([w]);
    }
    expect(bashWords(shellLine(words))).toEqual(words);
  });

  it('leaves plain words alone and escapes control characters in text', () => {
    expect(shellWord('0000:03:00.0')).toBe('0000:03:00.0');
    expect(shellLine(['vfs', 'enable', '0000:03:00.0', '2'])).toBe('vfs enable 0000:03:00.0 2');
    expect(escapeControls('setup p\nq.json')).toBe('setup p\\nq.json');
  });
});
