// --filter GLOB (repeatable): which scenarios run. `*` matches any run of
// characters (slashes included, so `*iov*` finds `import/iov-single-range`),
// `?` one character, `[...]` a class; a filter starting with `!` excludes.
// Scenarios run when they match any include (all, when there are only
// excludes) and no exclude. The capability probe always runs: every skip
// cites it.

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      while (glob[i + 1] === '*') i++;
      re += '.*';
    } else if (c === '?') {
      re += '.';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new FilterError(`--filter '${glob}': unclosed '['`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else {
      re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export function makeFilter(globs: readonly string[]): (id: string) => boolean {
  const include: RegExp[] = [];
  const exclude: RegExp[] = [];
  for (const g of globs) {
    const t = g.trim();
    if (t === '' || t === '!') throw new FilterError('--filter needs a pattern, e.g. --filter "import/*"');
    if (t.startsWith('!')) exclude.push(globToRegExp(t.slice(1)));
    else include.push(globToRegExp(t));
  }
  return (id) => (include.length === 0 || include.some((r) => r.test(id))) && !exclude.some((r) => r.test(id));
}
