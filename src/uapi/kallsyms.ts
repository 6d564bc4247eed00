// Lookups in the text of /proc/kallsyms: one line per symbol, `%px %c %s`
// then `\t[module]` for module symbols (kernel/kallsyms.c s_show), sorted by
// address. A Debian 7.2 kernel lists ~120,000 lines (5.4 MB, each function
// twice with CONFIG_CALL_PADDING's `__pfx_` twin), and the harness wants a
// dozen of them: splitting the whole text into line and field strings cost
// 0.3 s here and 4-12 s in the QEMU guest (node --jitless under TCG). So each
// wanted name is searched for with String.prototype.indexOf, a builtin that
// needs no JIT, and only its hits are looked at.

/** kallsyms type letters of functions: text (t/T) and weak (w/W). */
export const FUNCTION_TYPES = 'tTwW';

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;

/**
 * The type letter /proc/kallsyms gives `name` for its first line whose name
 * field is exactly `name` and whose type is one of `types` (every type when
 * null), or null when there is none.
 */
export function kallsymsType(text: string, name: string, types: string | null = FUNCTION_TYPES): string | null {
  if (name.length === 0) return null;
  for (let at = text.indexOf(name); at !== -1; at = text.indexOf(name, at + 1)) {
    // The name field follows "<address> <type> " and ends the line or meets the module's tab.
    const end = at + name.length;
    if (end < text.length) {
      const next = text.charCodeAt(end);
      if (next !== NEWLINE && next !== TAB) continue;
    }
    if (at < 3 || text.charCodeAt(at - 1) !== SPACE || text.charCodeAt(at - 3) !== SPACE) continue;
    const type = text[at - 2]!;
    if (types === null || types.includes(type)) return type;
  }
  return null;
}

/** The members of `names` that /proc/kallsyms lists with a type in `types` (functions by default). */
export function findKallsyms(
  text: string,
  names: Iterable<string>,
  types: string | null = FUNCTION_TYPES,
): Set<string> {
  const found = new Set<string>();
  for (const name of names) if (!found.has(name) && kallsymsType(text, name, types) !== null) found.add(name);
  return found;
}
