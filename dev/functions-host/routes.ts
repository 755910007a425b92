/**
 * ASP.NET-style route templates as the Functions host understands them: literal segments (case-insensitive),
 * `{param}`, optional `{param?}`, constrained `{id:int}` / `{id:guid}` / `{name:alpha}` / `{flag:bool}`,
 * catch-all `{*rest}`, and segments mixing literals and parameters (`{name}.{ext}`).
 * More specific templates win: literal segments beat parameters, which beat optional and catch-all ones.
 */

export interface CompiledRoute {
  template: string;
  /** Upper-case methods, or undefined for any method. */
  methods: string[] | undefined;
  match(pathname: string): Record<string, string> | undefined;
  /** Lower is more specific. */
  rank: number[];
}

const CONSTRAINTS: Record<string, string> = {
  int: '-?\\d+',
  long: '-?\\d+',
  guid: '[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}',
  alpha: '[A-Za-z]+',
  bool: '(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])',
};

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface ParamToken {
  name: string;
  optional: boolean;
  catchAll: boolean;
  pattern: string;
  constrained: boolean;
}

function parseParam(raw: string, template: string): ParamToken {
  // raw is the text between braces, e.g. "id:int?", "*rest", "name?"
  let body = raw.trim();
  const catchAll = body.startsWith('*');
  if (catchAll) body = body.replace(/^\*+/, '');
  const optional = body.endsWith('?');
  if (optional) body = body.slice(0, -1);
  const eq = body.indexOf('=');
  if (eq >= 0) body = body.slice(0, eq); // default values are not supported: treated as a plain parameter
  const [name, ...constraints] = body.split(':');
  if (!name || !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
    throw new Error(`Route template "${template}" has an invalid parameter "{${raw}}"`);
  }
  const known = constraints.map((c) => CONSTRAINTS[c.replace(/\(.*$/, '').toLowerCase()]).filter(Boolean);
  const pattern = catchAll ? '.*' : (known[0] ?? '[^/]+');
  return { name, optional, catchAll, pattern, constrained: known.length > 0 };
}

export function compileRoute(template: string, methods: string[] | undefined): CompiledRoute {
  const clean = template.replace(/^\/+|\/+$/g, '');
  const segments = clean === '' ? [] : clean.split('/');
  const names: string[] = [];
  const rank: number[] = [];
  let source = '^';
  for (const segment of segments) {
    const parts = segment.split(/(\{[^}]*\})/).filter((p) => p !== '');
    const params = parts.filter((p) => p.startsWith('{'));
    if (params.length === 0) {
      source += '/' + escapeRegex(segment);
      rank.push(0);
      continue;
    }
    if (parts.length === 1) {
      const token = parseParam(parts[0]!.slice(1, -1), template);
      names.push(token.name);
      if (token.catchAll) {
        source += `(?:/(${token.pattern}))?`;
        rank.push(5);
      } else if (token.optional) {
        source += `(?:/(${token.pattern}))?`;
        rank.push(4);
      } else {
        source += `/(${token.pattern})`;
        rank.push(token.constrained ? 2 : 3);
      }
      continue;
    }
    // A complex segment such as "{name}.{ext}" or "v{version}".
    let seg = '';
    for (const part of parts) {
      if (part.startsWith('{')) {
        const token = parseParam(part.slice(1, -1), template);
        names.push(token.name);
        // Greedy, like ASP.NET's right-to-left matching: `{name}.{ext}` on `a.b.pdf` gives name `a.b`.
        seg += token.optional ? `(${token.pattern})?` : `(${token.pattern})`;
      } else {
        seg += escapeRegex(part);
      }
    }
    source += '/' + seg;
    rank.push(1);
  }
  source += '/?$';
  const regex = new RegExp(source, 'i');
  return {
    template: clean,
    methods: methods?.map((m) => m.toUpperCase()),
    rank,
    match(pathname) {
      const m = regex.exec(pathname.replace(/\/{2,}/g, '/'));
      if (!m) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        const value = m[i + 1];
        if (value !== undefined && value !== '') params[name] = safeDecode(value);
      });
      return params;
    },
  };
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Sorts most specific first (the order in which the host tries templates). */
export function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  const n = Math.max(a.rank.length, b.rank.length);
  for (let i = 0; i < n; i++) {
    const x = a.rank[i] ?? -1;
    const y = b.rank[i] ?? -1;
    if (x !== y) return x - y;
  }
  return 0;
}
