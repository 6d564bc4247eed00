// Words as a shell reads them back, on one line. Bring-up messages suggest
// commands (`iovh restore --backend mock --mock-state PATH`) and repeat the
// command a dead process ran: they must be copy-pasteable whatever a path
// holds (a space, a quote), and never span two lines (a newline in a file
// name, as `iovh run`'s one-line errors, src/cli/main.ts oneLine).

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;
const CONTROL = /[\u0000-\u001f\u007f]/g;

/**
 * `s` as one shell word: as is when it needs no quoting, in single quotes
 * otherwise, and in bash's ANSI-C quotes ($'...', with \xHH escapes) when it
 * holds control characters, which single quotes would keep raw.
 */
export function shellWord(s: string): string {
  if (PLAIN.test(s)) return s;
  if (!new RegExp(CONTROL.source).test(s)) return `'${s.replace(/'/g, `'\\''`)}'`;
  const body = s
    .replace(/[\\']/g, (c) => `\\${c}`)
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `$'${body}'`;
}

/** A command line from its words. */
export function shellLine(words: string[]): string {
  return words.map(shellWord).join(' ');
}

/** Text with its control characters escaped (`\n`), for a message read back from a file written by an older iovh. */
export function escapeControls(s: string): string {
  return s.replace(CONTROL, (c) => JSON.stringify(c).slice(1, -1));
}

/** Longest run of text a message echoes from input before cutting it. */
export const CLIP = 200;

/**
 * `s` cut to `max` characters, saying how much was left out: a message
 * quotes what the user typed, and a 100 KB argument must not make a 100 KB
 * error line.
 */
export function clip(s: string, max = CLIP): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}
