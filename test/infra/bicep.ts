/**
 * A small reader for the Bicep files in infra/ (no Bicep compiler can be installed on these machines).
 *
 * It parses the subset of Bicep the templates use (params with decorators, vars, resources, modules, outputs;
 * objects, arrays, for-expressions, interpolated strings, operators, function calls) and evaluates expressions
 * the way a deployment would, with placeholder values for what only Azure knows (endpoints, ids, principal
 * ids). Anything it does not understand is an error naming the file and line, so a template change that this
 * reader cannot follow fails the tests loudly instead of passing unchecked.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// ----------------------------------------------------------------------------------------------------------
// Tokens

type StringPart = string | { source: string; line: number };
type Token =
  | { kind: 'ident'; value: string; line: number }
  | { kind: 'number'; value: number; line: number }
  | { kind: 'string'; parts: StringPart[]; line: number }
  | { kind: 'punct'; value: string; line: number }
  | { kind: 'newline'; line: number }
  | { kind: 'eof'; line: number };

const PUNCTUATION = [
  '==',
  '!=',
  '=~',
  '!~',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '.?',
  '::',
  '=>',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ':',
  '.',
  '?',
  '!',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '@',
];

export class BicepSyntaxError extends Error {
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
  }
}

/** A string literal as written in a file (interpolations are skipped), for scans such as "no secrets". */
export interface StringLiteral {
  value: string;
  line: number;
}

/** Index just past the `}` closing an interpolation that starts at `start` (just after `${`). */
function endOfInterpolation(text: string, start: number, file: string, line: number): number {
  let depth = 1;
  let i = start;
  while (i < text.length) {
    const c = text[i];
    if (c === "'") {
      i = endOfString(text, i, file, line);
      continue;
    }
    if (c === '{') depth += 1;
    if (c === '}') {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
    if (c === '\n') throw new BicepSyntaxError(file, line, 'unterminated interpolation');
    i += 1;
  }
  throw new BicepSyntaxError(file, line, 'unterminated interpolation');
}

/** Index just past the closing quote of the single-quoted string whose opening quote is at `start`. */
function endOfString(text: string, start: number, file: string, line: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (c === '\\') i += 2;
    else if (c === "'") return i + 1;
    else if (c === '$' && text[i + 1] === '{') i = endOfInterpolation(text, i + 2, file, line);
    else if (c === '\n') break;
    else i += 1;
  }
  throw new BicepSyntaxError(file, line, 'unterminated string');
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };

function tokenize(text: string, file: string, firstLine = 1, literals?: StringLiteral[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = firstLine;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      tokens.push({ kind: 'newline', line });
      line += 1;
      i += 1;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i += 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new BicepSyntaxError(file, line, 'unterminated comment');
      const lines = text.slice(i, end).split('\n').length - 1;
      if (lines > 0) tokens.push({ kind: 'newline', line });
      line += lines;
      i = end + 2;
    } else if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      if (end < 0) throw new BicepSyntaxError(file, line, 'unterminated multi-line string');
      const value = text.slice(i + 3, end).replace(/^\r?\n/, '');
      tokens.push({ kind: 'string', parts: [value], line });
      literals?.push({ value, line });
      line += text.slice(i, end).split('\n').length - 1;
      i = end + 3;
    } else if (c === "'") {
      const parts: StringPart[] = [];
      let buffer = '';
      let j = i + 1;
      for (;;) {
        const d = text[j];
        if (d === undefined || d === '\n') throw new BicepSyntaxError(file, line, 'unterminated string');
        if (d === '\\') {
          const e = text[j + 1] ?? '';
          if (e === 'u' && text[j + 2] === '{') {
            const close = text.indexOf('}', j + 3);
            buffer += String.fromCodePoint(parseInt(text.slice(j + 3, close), 16));
            j = close + 1;
          } else if (e in ESCAPES) {
            buffer += ESCAPES[e];
            j += 2;
          } else {
            throw new BicepSyntaxError(file, line, `unknown escape \\${e}`);
          }
        } else if (d === "'") {
          j += 1;
          break;
        } else if (d === '$' && text[j + 1] === '{') {
          if (buffer !== '') parts.push(buffer);
          literals?.push({ value: buffer, line });
          buffer = '';
          const end = endOfInterpolation(text, j + 2, file, line);
          parts.push({ source: text.slice(j + 2, end - 1), line });
          j = end;
        } else {
          buffer += d;
          j += 1;
        }
      }
      if (buffer !== '' || parts.length === 0) parts.push(buffer);
      literals?.push({ value: buffer, line });
      tokens.push({ kind: 'string', parts, line });
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < text.length && /[0-9]/.test(text[j]!)) j += 1;
      tokens.push({ kind: 'number', value: Number(text.slice(i, j)), line });
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j += 1;
      tokens.push({ kind: 'ident', value: text.slice(i, j), line });
      i = j;
    } else {
      const punct = PUNCTUATION.find((p) => text.startsWith(p, i));
      if (!punct) throw new BicepSyntaxError(file, line, `unexpected character ${JSON.stringify(c)}`);
      tokens.push({ kind: 'punct', value: punct, line });
      i += punct.length;
    }
  }
  tokens.push({ kind: 'eof', line });
  return tokens;
}

// ----------------------------------------------------------------------------------------------------------
// Syntax tree

export interface ObjectProperty {
  key: string | Expr;
  value: Expr;
  line: number;
}
export type Expr = { line: number } & (
  | { kind: 'string'; value: string }
  | { kind: 'interpolation'; parts: (string | Expr)[] }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' }
  | { kind: 'ident'; name: string }
  | { kind: 'member'; object: Expr; name: string; safe: boolean }
  | { kind: 'index'; object: Expr; index: Expr; safe: boolean }
  | { kind: 'call'; callee: Expr; args: Expr[] }
  | { kind: 'unary'; op: string; operand: Expr }
  | { kind: 'binary'; op: string; left: Expr; right: Expr }
  | { kind: 'ternary'; condition: Expr; then: Expr; otherwise: Expr }
  | { kind: 'object'; properties: ObjectProperty[] }
  | { kind: 'array'; items: Expr[] }
  | { kind: 'for'; item: string; index?: string; source: Expr; condition?: Expr; body: Expr }
  | { kind: 'conditional'; condition: Expr; body: Expr }
);
export type ObjectExpr = Extract<Expr, { kind: 'object' }>;

export interface ParamDecl {
  name: string;
  type: string;
  defaultValue?: Expr;
  decorators: Expr[];
  line: number;
}
export interface ResourceDecl {
  symbol: string;
  type: string;
  apiVersion: string;
  existing: boolean;
  value: Expr;
  decorators: Expr[];
  line: number;
}
export interface ModuleDecl {
  symbol: string;
  path: string;
  value: Expr;
  line: number;
}
export interface OutputDecl {
  name: string;
  type: string;
  value: Expr;
  line: number;
}
export interface BicepFile {
  /** Path relative to the repository root, for messages. */
  path: string;
  absolutePath: string;
  targetScope?: Expr;
  params: Map<string, ParamDecl>;
  vars: Map<string, Expr>;
  resources: Map<string, ResourceDecl>;
  modules: Map<string, ModuleDecl>;
  outputs: Map<string, OutputDecl>;
  stringLiterals: StringLiteral[];
}

const BINARY_LEVELS: string[][] = [
  ['??'],
  ['||'],
  ['&&'],
  ['==', '!=', '=~', '!~'],
  ['<', '<=', '>', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

class Parser {
  private pos = 0;
  /** Above zero inside parentheses, where line breaks carry no meaning. */
  private lineBreaksIgnored = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly file: string,
  ) {}

  private peek(): Token {
    if (this.lineBreaksIgnored > 0) {
      while (this.tokens[this.pos]?.kind === 'newline') this.pos += 1;
    }
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos += 1;
    return token;
  }

  private fail(message: string, token = this.peek()): never {
    throw new BicepSyntaxError(this.file, token.line, message);
  }

  private isPunct(value: string, token = this.peek()): boolean {
    return token.kind === 'punct' && token.value === value;
  }

  private isIdent(value: string, token = this.peek()): boolean {
    return token.kind === 'ident' && token.value === value;
  }

  private expectPunct(value: string): Token {
    const token = this.next();
    if (token.kind !== 'punct' || token.value !== value) this.fail(`expected "${value}"`, token);
    return token;
  }

  private expectIdent(): string {
    const token = this.next();
    if (token.kind !== 'ident') this.fail('expected a name', token);
    return token.value;
  }

  private expectLiteralString(): string {
    const token = this.next();
    if (token.kind !== 'string' || token.parts.length !== 1 || typeof token.parts[0] !== 'string') {
      this.fail('expected a string without interpolation', token);
    }
    return token.parts[0];
  }

  private skipLineBreaks(): void {
    while (this.tokens[this.pos]?.kind === 'newline') this.pos += 1;
  }

  /** After an item of an object or array: a comma, a line break, or the closing bracket. */
  private endOfItem(close: string): void {
    const token = this.tokens[this.pos]!;
    if (token.kind === 'newline' || this.isPunct(',', token)) {
      this.pos += 1;
      this.skipLineBreaks();
    } else if (!this.isPunct(close, token)) {
      this.fail(`expected a line break, "," or "${close}"`, token);
    }
  }

  private withLineBreaks<T>(significant: boolean, parse: () => T): T {
    const saved = this.lineBreaksIgnored;
    this.lineBreaksIgnored = significant ? 0 : saved + 1;
    try {
      return parse();
    } finally {
      this.lineBreaksIgnored = saved;
    }
  }

  parseExpression(): Expr {
    const condition = this.parseBinary(0);
    if (this.isPunct('?')) {
      this.next();
      const then = this.parseExpression();
      this.expectPunct(':');
      const otherwise = this.parseExpression();
      return { kind: 'ternary', condition, then, otherwise, line: condition.line };
    }
    return condition;
  }

  private parseBinary(level: number): Expr {
    const ops = BINARY_LEVELS[level];
    if (!ops) return this.parseUnary();
    let left = this.parseBinary(level + 1);
    for (;;) {
      const token = this.peek();
      if (token.kind !== 'punct' || !ops.includes(token.value)) return left;
      this.next();
      const right = this.parseBinary(level + 1);
      left = { kind: 'binary', op: token.value, left, right, line: left.line };
    }
  }

  private parseUnary(): Expr {
    const token = this.peek();
    if (this.isPunct('!', token) || this.isPunct('-', token)) {
      this.next();
      return { kind: 'unary', op: (token as { value: string }).value, operand: this.parseUnary(), line: token.line };
    }
    return this.parsePostfix();
  }

  private parsePostfix(): Expr {
    let expr = this.parsePrimary();
    for (;;) {
      const token = this.tokens[this.pos]!; // no line break may come before an accessor
      if (this.isPunct('.', token) || this.isPunct('.?', token)) {
        this.pos += 1;
        expr = {
          kind: 'member',
          object: expr,
          name: this.expectIdent(),
          safe: token.kind === 'punct' && token.value === '.?',
          line: token.line,
        };
      } else if (this.isPunct('[', token)) {
        this.pos += 1;
        const safe = this.isPunct('?');
        if (safe) this.next();
        const index = this.withLineBreaks(false, () => this.parseExpression());
        this.expectPunct(']');
        expr = { kind: 'index', object: expr, index, safe, line: token.line };
      } else if (this.isPunct('(', token)) {
        if (expr.kind !== 'ident' && expr.kind !== 'member') this.fail('only functions can be called', token);
        this.pos += 1;
        const args = this.withLineBreaks(false, () => {
          const list: Expr[] = [];
          while (!this.isPunct(')')) {
            list.push(this.parseExpression());
            if (!this.isPunct(')')) this.expectPunct(',');
          }
          return list;
        });
        this.expectPunct(')');
        expr = { kind: 'call', callee: expr, args, line: token.line };
      } else if (this.isPunct('::', token)) {
        this.fail('nested resource accessors (::) are not supported: use parent: instead', token);
      } else {
        return expr;
      }
    }
  }

  private parseString(token: Extract<Token, { kind: 'string' }>): Expr {
    if (token.parts.every((p) => typeof p === 'string')) {
      return { kind: 'string', value: token.parts.join(''), line: token.line };
    }
    const parts = token.parts.map((part) => {
      if (typeof part === 'string') return part;
      const inner = new Parser(tokenize(part.source, this.file, part.line), this.file);
      const expr = inner.withLineBreaks(false, () => inner.parseExpression());
      if (inner.peek().kind !== 'eof') inner.fail('unexpected text in interpolation');
      return expr;
    });
    return { kind: 'interpolation', parts, line: token.line };
  }

  private parsePrimary(): Expr {
    const token = this.next();
    switch (token.kind) {
      case 'number':
        return { kind: 'number', value: token.value, line: token.line };
      case 'string':
        return this.parseString(token);
      case 'ident':
        if (token.value === 'true' || token.value === 'false') {
          return { kind: 'bool', value: token.value === 'true', line: token.line };
        }
        if (token.value === 'null') return { kind: 'null', line: token.line };
        return { kind: 'ident', name: token.value, line: token.line };
      case 'punct':
        if (token.value === '(') {
          const inner = this.withLineBreaks(false, () => this.parseExpression());
          this.expectPunct(')');
          return inner;
        }
        if (token.value === '{') return this.parseObject(token.line);
        if (token.value === '[') return this.parseArray(token.line);
        return this.fail(`unexpected "${token.value}"`, token);
      default:
        return this.fail('expected a value', token);
    }
  }

  private parseObject(line: number): Expr {
    return this.withLineBreaks(true, () => {
      const properties: ObjectProperty[] = [];
      this.skipLineBreaks();
      while (!this.isPunct('}')) {
        const keyToken = this.next();
        let key: string | Expr;
        if (keyToken.kind === 'ident') key = keyToken.value;
        else if (keyToken.kind === 'string') {
          const parsed = this.parseString(keyToken);
          key = parsed.kind === 'string' ? parsed.value : parsed;
        } else return this.fail('expected a property name', keyToken);
        this.expectPunct(':');
        const value = this.parseExpression();
        properties.push({ key, value, line: keyToken.line });
        this.endOfItem('}');
      }
      this.expectPunct('}');
      return { kind: 'object', properties, line } satisfies Expr;
    });
  }

  private parseArray(line: number): Expr {
    return this.withLineBreaks(true, () => {
      this.skipLineBreaks();
      if (this.isIdent('for')) {
        this.next();
        let item: string;
        let index: string | undefined;
        if (this.isPunct('(')) {
          this.next();
          item = this.expectIdent();
          this.expectPunct(',');
          index = this.expectIdent();
          this.expectPunct(')');
        } else {
          item = this.expectIdent();
        }
        if (!this.isIdent('in')) this.fail('expected "in"');
        this.next();
        const source = this.parseExpression();
        this.expectPunct(':');
        let condition: Expr | undefined;
        if (this.isIdent('if')) {
          this.next();
          this.expectPunct('(');
          condition = this.withLineBreaks(false, () => this.parseExpression());
          this.expectPunct(')');
        }
        const body = this.parseExpression();
        this.skipLineBreaks();
        this.expectPunct(']');
        return { kind: 'for', item, index, source, condition, body, line } satisfies Expr;
      }
      const items: Expr[] = [];
      while (!this.isPunct(']')) {
        items.push(this.parseExpression());
        this.endOfItem(']');
      }
      this.expectPunct(']');
      return { kind: 'array', items, line } satisfies Expr;
    });
  }

  /** `= if (condition) { ... }`, `= [for ...]` or `= { ... }` after a resource or module header. */
  private parseDeclarationValue(): Expr {
    if (this.isIdent('if')) {
      const token = this.next();
      this.expectPunct('(');
      const condition = this.withLineBreaks(false, () => this.parseExpression());
      this.expectPunct(')');
      return { kind: 'conditional', condition, body: this.parseExpression(), line: token.line };
    }
    return this.parseExpression();
  }

  private parseType(): string {
    let type = this.expectIdent();
    if (this.isPunct('[')) {
      this.next();
      this.expectPunct(']');
      type += '[]';
    } else if (this.isPunct('?')) {
      this.next();
      type += '?';
    }
    return type;
  }

  parseFile(file: Omit<BicepFile, 'params' | 'vars' | 'resources' | 'modules' | 'outputs'>): BicepFile {
    const result: BicepFile = {
      ...file,
      params: new Map(),
      vars: new Map(),
      resources: new Map(),
      modules: new Map(),
      outputs: new Map(),
    };
    const declared = new Set<string>();
    const declare = (name: string, line: number) => {
      if (declared.has(name)) throw new BicepSyntaxError(this.file, line, `"${name}" is declared twice`);
      declared.add(name);
    };
    let decorators: Expr[] = [];
    for (;;) {
      this.skipLineBreaks();
      const token = this.peek();
      if (token.kind === 'eof') break;
      if (this.isPunct('@', token)) {
        this.next();
        decorators.push(this.parsePostfix());
        continue;
      }
      const keyword = this.expectIdent();
      switch (keyword) {
        case 'targetScope':
          this.expectPunct('=');
          result.targetScope = this.parseExpression();
          break;
        case 'metadata':
          this.expectIdent();
          this.expectPunct('=');
          this.parseExpression();
          break;
        case 'param': {
          const name = this.expectIdent();
          declare(name, token.line);
          const type = this.parseType();
          let defaultValue: Expr | undefined;
          if (this.isPunct('=')) {
            this.next();
            defaultValue = this.parseExpression();
          }
          result.params.set(name, { name, type, defaultValue, decorators, line: token.line });
          break;
        }
        case 'var': {
          const name = this.expectIdent();
          declare(name, token.line);
          this.expectPunct('=');
          result.vars.set(name, this.parseExpression());
          break;
        }
        case 'resource': {
          const symbol = this.expectIdent();
          declare(symbol, token.line);
          const typeAndVersion = this.expectLiteralString();
          const match = /^([^@]+)@(\d{4}-\d{2}-\d{2}(?:-preview)?)$/.exec(typeAndVersion);
          if (!match) this.fail(`resource type "${typeAndVersion}" has no API version`, token);
          const existing = this.isIdent('existing');
          if (existing) this.next();
          this.expectPunct('=');
          const value = this.parseDeclarationValue();
          result.resources.set(symbol, {
            symbol,
            type: match[1]!,
            apiVersion: match[2]!,
            existing,
            value,
            decorators,
            line: token.line,
          });
          break;
        }
        case 'module': {
          const symbol = this.expectIdent();
          declare(symbol, token.line);
          const modulePath = this.expectLiteralString();
          this.expectPunct('=');
          result.modules.set(symbol, {
            symbol,
            path: modulePath,
            value: this.parseDeclarationValue(),
            line: token.line,
          });
          break;
        }
        case 'output': {
          const name = this.expectIdent();
          if (result.outputs.has(name)) this.fail(`output "${name}" is declared twice`, token);
          const type = this.parseType();
          this.expectPunct('=');
          result.outputs.set(name, { name, type, value: this.parseExpression(), line: token.line });
          break;
        }
        default:
          this.fail(`unsupported statement "${keyword}"`, token);
      }
      decorators = [];
      const after = this.tokens[this.pos]!;
      if (after.kind !== 'newline' && after.kind !== 'eof')
        this.fail('expected a line break after the statement', after);
    }
    return result;
  }
}

/** Parses one Bicep file (path relative to `root`, the repository). */
export function parseBicepFile(root: string, relativePath: string): BicepFile {
  const absolutePath = path.resolve(root, relativePath);
  const text = readFileSync(absolutePath, 'utf8');
  const display = path.relative(root, absolutePath).split(path.sep).join('/');
  const stringLiterals: StringLiteral[] = [];
  const tokens = tokenize(text, display, 1, stringLiterals);
  return new Parser(tokens, display).parseFile({ path: display, absolutePath, stringLiterals });
}

/** Parses Bicep source text (for the reader's own tests). */
export function parseBicepText(text: string, display = 'inline.bicep'): BicepFile {
  const stringLiterals: StringLiteral[] = [];
  return new Parser(tokenize(text, display, 1, stringLiterals), display).parseFile({
    path: display,
    absolutePath: display,
    stringLiterals,
  });
}

// ----------------------------------------------------------------------------------------------------------
// Walking the tree

/** Every expression of the file (params' defaults and decorators, vars, resources, modules, outputs). */
export function topLevelExpressions(file: BicepFile): Expr[] {
  const all: Expr[] = [];
  if (file.targetScope) all.push(file.targetScope);
  for (const p of file.params.values()) all.push(...p.decorators, ...(p.defaultValue ? [p.defaultValue] : []));
  all.push(...file.vars.values());
  for (const r of file.resources.values()) all.push(...r.decorators, r.value);
  for (const m of file.modules.values()) all.push(m.value);
  for (const o of file.outputs.values()) all.push(o.value);
  return all;
}

/** Calls `visit` for `expr` and every expression inside it, with the loop variables in scope there. */
export function walk(
  expr: Expr,
  visit: (e: Expr, locals: ReadonlySet<string>) => void,
  locals: ReadonlySet<string> = new Set(),
): void {
  visit(expr, locals);
  const inner = (e: Expr, l = locals) => walk(e, visit, l);
  switch (expr.kind) {
    case 'interpolation':
      for (const part of expr.parts) if (typeof part !== 'string') inner(part);
      break;
    case 'member':
      inner(expr.object);
      break;
    case 'index':
      inner(expr.object);
      inner(expr.index);
      break;
    case 'call':
      inner(expr.callee);
      expr.args.forEach((a) => inner(a));
      break;
    case 'unary':
      inner(expr.operand);
      break;
    case 'binary':
      inner(expr.left);
      inner(expr.right);
      break;
    case 'ternary':
      inner(expr.condition);
      inner(expr.then);
      inner(expr.otherwise);
      break;
    case 'object':
      for (const p of expr.properties) {
        if (typeof p.key !== 'string') inner(p.key);
        inner(p.value);
      }
      break;
    case 'array':
      expr.items.forEach((i) => inner(i));
      break;
    case 'for': {
      inner(expr.source);
      const loopLocals = new Set([...locals, expr.item, ...(expr.index ? [expr.index] : [])]);
      if (expr.condition) inner(expr.condition, loopLocals);
      inner(expr.body, loopLocals);
      break;
    }
    case 'conditional':
      inner(expr.condition);
      inner(expr.body);
      break;
    default:
      break;
  }
}

const NAMESPACES = new Set(['sys', 'az']);

/** Names used but never declared (what a compiler would reject): `[{ name, line }]`. */
export function undeclaredNames(file: BicepFile): { name: string; line: number }[] {
  const declared = new Set([
    ...file.params.keys(),
    ...file.vars.keys(),
    ...file.resources.keys(),
    ...file.modules.keys(),
  ]);
  const problems: { name: string; line: number }[] = [];
  const calleeIdents = new Set<Expr>();
  for (const top of topLevelExpressions(file)) {
    walk(top, (e, locals) => {
      if (e.kind === 'call' && e.callee.kind === 'ident') calleeIdents.add(e.callee);
      if (
        e.kind === 'call' &&
        e.callee.kind === 'member' &&
        e.callee.object.kind === 'ident' &&
        NAMESPACES.has(e.callee.object.name)
      ) {
        calleeIdents.add(e.callee.object);
      }
      if (e.kind === 'ident' && !calleeIdents.has(e) && !declared.has(e.name) && !locals.has(e.name)) {
        problems.push({ name: e.name, line: e.line });
      }
    });
  }
  return problems;
}

/** The object literal of a property path (`a.b.c`) inside an object expression, or undefined. */
export function property(object: Expr | undefined, dottedPath: string): Expr | undefined {
  let current = object;
  for (const key of dottedPath.split('.')) {
    if (!current || current.kind !== 'object') return undefined;
    current = current.properties.find((p) => p.key === key)?.value;
  }
  return current;
}

/** The body object of a resource or module (unwrapping `if (...)`); for-loops are not unwrapped. */
export function bodyOf(decl: { value: Expr; line: number }, file: BicepFile): ObjectExpr {
  const value = decl.value.kind === 'conditional' ? decl.value.body : decl.value;
  if (value.kind !== 'object') throw new BicepSyntaxError(file.path, decl.line, 'expected an object body');
  return value;
}

// ----------------------------------------------------------------------------------------------------------
// Evaluation

/** A plain value, as ARM would see it after the deployment resolved every expression. */
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

interface ResourceRef {
  ref: 'resource';
  scope: BicepScope;
  decl: ResourceDecl;
}
interface ModuleRef {
  ref: 'module';
  scope: BicepScope;
  decl: ModuleDecl;
}
type Evaluated = Value | ResourceRef | ModuleRef;

function isRef(v: Evaluated): v is ResourceRef | ModuleRef {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'ref' in v && 'decl' in v && 'scope' in v;
}

export const PLACEHOLDER = {
  tenantId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  subscriptionId: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
  identityClientId: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',
  identityPrincipalId: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd',
  resourceGroup: 'rg-placeholder',
} as const;

/**
 * What only Azure knows at deployment time, by `<resource type> <property path>`: a realistic value built from
 * the resource's evaluated name. A template reading a property missing here fails the tests with a clear
 * message: add the property (with a value shaped like Azure's) to this table.
 */
const RUNTIME_PROPERTIES: Record<string, (name: string) => Value> = {
  'Microsoft.DocumentDB/databaseAccounts properties.documentEndpoint': (n) => `https://${n}.documents.azure.com:443/`,
  'Microsoft.KeyVault/vaults properties.vaultUri': (n) => `https://${n}.vault.azure.net/`,
  'Microsoft.Storage/storageAccounts properties.primaryEndpoints.blob': (n) => `https://${n}.blob.core.windows.net/`,
  'Microsoft.Storage/storageAccounts properties.primaryEndpoints.queue': (n) => `https://${n}.queue.core.windows.net/`,
  'Microsoft.Insights/components properties.ConnectionString': () =>
    'InstrumentationKey=eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee;IngestionEndpoint=https://placeholder.in.applicationinsights.azure.com/',
  'Microsoft.ManagedIdentity/userAssignedIdentities properties.clientId': () => PLACEHOLDER.identityClientId,
  'Microsoft.ManagedIdentity/userAssignedIdentities properties.principalId': () => PLACEHOLDER.identityPrincipalId,
  'Microsoft.Web/sites properties.defaultHostName': (n) => `${n}.azurewebsites.net`,
};

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function asString(value: Value): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function isPlainObject(value: Value): value is { [key: string]: Value } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deployment of infra/: files are parsed once; `scope()` evaluates a file with given parameter values. */
export class BicepDeployment {
  private readonly files = new Map<string, BicepFile>();

  constructor(readonly root: string) {}

  file(relativePath: string): BicepFile {
    const key = path.resolve(this.root, relativePath);
    let file = this.files.get(key);
    if (!file) {
      file = parseBicepFile(this.root, relativePath);
      this.files.set(key, file);
    }
    return file;
  }

  /** Evaluates `relativePath` as the deployment's entry point with these parameter values. */
  scope(relativePath: string, params: Record<string, Value>): BicepScope {
    const file = this.file(relativePath);
    const thunks = new Map<string, () => Evaluated>();
    for (const [name, value] of Object.entries(params)) {
      if (!file.params.has(name)) throw new Error(`${file.path} has no parameter "${name}"`);
      thunks.set(name, () => value);
    }
    return new BicepScope(this, file, thunks, file.path);
  }
}

export class BicepScope {
  private readonly paramCache = new Map<string, Evaluated>();
  private readonly varCache = new Map<string, Evaluated>();
  private readonly moduleCache = new Map<string, BicepScope>();
  private readonly resolving = new Set<string>();

  constructor(
    readonly deployment: BicepDeployment,
    readonly file: BicepFile,
    private readonly paramThunks: Map<string, () => Evaluated>,
    /** Where this scope sits, e.g. `infra/main.bicep > functionApp`. */
    readonly label: string,
  ) {}

  private guard<T>(key: string, line: number, compute: () => T): T {
    if (this.resolving.has(key)) throw new BicepSyntaxError(this.file.path, line, `"${key}" refers to itself`);
    this.resolving.add(key);
    try {
      return compute();
    } finally {
      this.resolving.delete(key);
    }
  }

  private param(name: string, line: number): Evaluated {
    if (!this.paramCache.has(name)) {
      const decl = this.file.params.get(name)!;
      const value = this.guard(`param ${name}`, line, () => {
        const thunk = this.paramThunks.get(name);
        if (thunk) return thunk();
        if (decl.defaultValue) return this.evaluate(decl.defaultValue);
        throw new BicepSyntaxError(
          this.file.path,
          decl.line,
          `required parameter "${name}" is not given (${this.label})`,
        );
      });
      this.paramCache.set(name, value);
    }
    return this.paramCache.get(name)!;
  }

  private variable(name: string, line: number): Evaluated {
    if (!this.varCache.has(name)) {
      this.varCache.set(
        name,
        this.guard(`var ${name}`, line, () => this.evaluate(this.file.vars.get(name)!)),
      );
    }
    return this.varCache.get(name)!;
  }

  /** The scope of module `symbol` of this file, its parameters bound to the arguments given here. */
  module(symbol: string): BicepScope {
    let child = this.moduleCache.get(symbol);
    if (!child) {
      const decl = this.file.modules.get(symbol);
      if (!decl) throw new Error(`${this.file.path} has no module "${symbol}"`);
      const moduleFile = this.deployment.file(path.join(path.dirname(this.file.absolutePath), decl.path));
      const args = property(bodyOf(decl, this.file), 'params');
      const thunks = new Map<string, () => Evaluated>();
      if (args) {
        if (args.kind !== 'object') throw new BicepSyntaxError(this.file.path, decl.line, 'params must be an object');
        for (const arg of args.properties) {
          if (typeof arg.key !== 'string')
            throw new BicepSyntaxError(this.file.path, arg.line, 'computed parameter names');
          if (!moduleFile.params.has(arg.key)) {
            throw new BicepSyntaxError(this.file.path, arg.line, `module ${decl.path} has no parameter "${arg.key}"`);
          }
          thunks.set(arg.key, () => this.evaluate(arg.value));
        }
      }
      child = new BicepScope(this.deployment, moduleFile, thunks, `${this.label} > ${symbol}`);
      this.moduleCache.set(symbol, child);
    }
    return child;
  }

  /**
   * Evaluates an expression of this file to a plain value. A resource used as a value (`scope: vault`,
   * `parent: account`) becomes its resource id, a module (`dependsOn: [rbac]`) its symbolic name.
   */
  value(expr: Expr, locals?: Map<string, Evaluated>): Value {
    const result = this.evaluate(expr, locals);
    if (!isRef(result)) return result;
    if (result.ref === 'module') return `module:${result.decl.symbol}`;
    return this.resourceProperty(result, ['id'], expr.line) as Value;
  }

  /** The value of output `name` of this file. */
  output(name: string): Value {
    const decl = this.file.outputs.get(name);
    if (!decl) throw new Error(`${this.file.path} has no output "${name}"`);
    return this.value(decl.value);
  }

  /** Resource `symbol` of this file as a reference (`.name`, `.id`, `.properties...` evaluate through it). */
  resource(symbol: string): ResourceDecl {
    const decl = this.file.resources.get(symbol);
    if (!decl) throw new Error(`${this.file.path} has no resource "${symbol}"`);
    return decl;
  }

  /** The resource a `scope:` or `parent:` expression points at. */
  referencedResource(expr: Expr): ResourceDecl {
    const result = this.evaluate(expr);
    if (!isRef(result) || result.ref !== 'resource') {
      throw new BicepSyntaxError(this.file.path, expr.line, 'expected a resource');
    }
    return result.decl;
  }

  private resourceProperty(ref: ResourceRef, segments: string[], line: number): Evaluated {
    const { scope, decl } = ref;
    const body = bodyOf(decl, scope.file);
    const name = () => asString(scope.value(property(body, 'name')!));
    const [first, ...rest] = segments;
    let base: Value;
    if (first === 'name') base = name();
    else if (first === 'type') base = decl.type;
    else if (first === 'apiVersion') base = decl.apiVersion;
    else if (first === 'id') {
      const parent = property(body, 'parent');
      const parentId = parent ? asString(scope.value(parent)) : undefined;
      const lastType = decl.type.split('/').pop()!;
      base = parentId
        ? `${parentId}/${lastType}/${name()}`
        : `/subscriptions/${PLACEHOLDER.subscriptionId}/resourceGroups/${PLACEHOLDER.resourceGroup}/providers/${decl.type}/${name()}`;
    } else {
      // A runtime property (longest known prefix), else a property the template itself sets.
      for (let n = segments.length; n > 0; n -= 1) {
        const key = `${decl.type} ${segments.slice(0, n).join('.')}`;
        const runtime = RUNTIME_PROPERTIES[key];
        if (runtime) return this.derefValue(runtime(name()), segments.slice(n), line);
      }
      const declared = property(body, segments.join('.'));
      if (declared) return scope.evaluate(declared);
      throw new BicepSyntaxError(
        this.file.path,
        line,
        `no placeholder for ${decl.type} ${segments.join('.')}: add it to RUNTIME_PROPERTIES in test/infra/bicep.ts`,
      );
    }
    return this.derefValue(base, rest, line);
  }

  private derefValue(value: Value, segments: string[], line: number): Value {
    let current = value;
    for (const segment of segments) {
      if (!isPlainObject(current) || !(segment in current)) {
        throw new BicepSyntaxError(this.file.path, line, `no property "${segment}"`);
      }
      current = current[segment]!;
    }
    return current;
  }

  private deref(target: Evaluated, segments: string[], line: number): Evaluated {
    if (segments.length === 0) return target;
    if (isRef(target)) {
      if (target.ref === 'resource') return this.resourceProperty(target, segments, line);
      const [outputs, outputName, ...rest] = segments;
      if (outputs !== 'outputs' || !outputName) {
        throw new BicepSyntaxError(this.file.path, line, `a module exposes only outputs (${target.decl.symbol})`);
      }
      const child = target.scope.module(target.decl.symbol);
      return this.derefValue(child.output(outputName), rest, line);
    }
    return this.derefValue(target, segments, line);
  }

  /** `a.b.c` with a plain identifier at its root: the root and the member names. */
  private static memberChain(expr: Expr): { root: Expr; segments: string[]; safe: boolean } {
    const segments: string[] = [];
    let current = expr;
    let safe = false;
    while (current.kind === 'member') {
      segments.unshift(current.name);
      safe ||= current.safe;
      current = current.object;
    }
    return { root: current, segments, safe };
  }

  evaluate(expr: Expr, locals: Map<string, Evaluated> = new Map()): Evaluated {
    const ev = (e: Expr) => this.evaluate(e, locals);
    const val = (e: Expr) => this.value(e, locals);
    switch (expr.kind) {
      case 'string':
      case 'number':
      case 'bool':
        return expr.value;
      case 'null':
        return null;
      case 'interpolation':
        return expr.parts.map((p) => (typeof p === 'string' ? p : asString(val(p)))).join('');
      case 'ident': {
        const name = expr.name;
        if (locals.has(name)) return locals.get(name)!;
        if (this.file.params.has(name)) return this.param(name, expr.line);
        if (this.file.vars.has(name)) return this.variable(name, expr.line);
        const resource = this.file.resources.get(name);
        if (resource) return { ref: 'resource', scope: this, decl: resource };
        const module = this.file.modules.get(name);
        if (module) return { ref: 'module', scope: this, decl: module };
        throw new BicepSyntaxError(this.file.path, expr.line, `unknown name "${name}"`);
      }
      case 'member': {
        const { root, segments, safe } = BicepScope.memberChain(expr);
        const target = ev(root);
        if (safe && !isRef(target)) {
          let current: Value = target;
          for (const s of segments) current = isPlainObject(current) && s in current ? current[s]! : null;
          return current;
        }
        return this.deref(target, segments, expr.line);
      }
      case 'index': {
        const target = val(expr.object);
        const index = val(expr.index);
        if (Array.isArray(target) && typeof index === 'number')
          return target[index] ?? (expr.safe ? null : this.outOfRange(expr));
        if (isPlainObject(target) && typeof index === 'string')
          return target[index] ?? (expr.safe ? null : this.outOfRange(expr));
        return this.outOfRange(expr);
      }
      case 'call':
        return this.call(expr, locals);
      case 'unary': {
        const operand = val(expr.operand);
        return expr.op === '!' ? !operand : -(operand as number);
      }
      case 'binary':
        return this.binary(expr.op, expr, locals);
      case 'ternary':
        return val(expr.condition) ? ev(expr.then) : ev(expr.otherwise);
      case 'object': {
        const result: { [key: string]: Value } = {};
        for (const p of expr.properties) {
          const key = typeof p.key === 'string' ? p.key : asString(val(p.key));
          result[key] = val(p.value);
        }
        return result;
      }
      case 'array':
        return expr.items.map((i) => val(i));
      case 'for': {
        const source = val(expr.source);
        if (!Array.isArray(source)) throw new BicepSyntaxError(this.file.path, expr.line, 'for needs an array');
        const out: Value[] = [];
        source.forEach((item, i) => {
          const inner = new Map(locals);
          inner.set(expr.item, item);
          if (expr.index) inner.set(expr.index, i);
          if (!expr.condition || this.value(expr.condition, inner)) out.push(this.value(expr.body, inner));
        });
        return out;
      }
      case 'conditional':
        return ev(expr.body);
    }
  }

  private outOfRange(expr: Expr): never {
    throw new BicepSyntaxError(this.file.path, expr.line, 'index out of range');
  }

  private binary(op: string, expr: Extract<Expr, { kind: 'binary' }>, locals: Map<string, Evaluated>): Value {
    const left = () => this.value(expr.left, locals);
    const right = () => this.value(expr.right, locals);
    switch (op) {
      case '&&':
        return Boolean(left()) && Boolean(right());
      case '||':
        return Boolean(left()) || Boolean(right());
      case '??': {
        const l = left();
        return l ?? right();
      }
      case '==':
        return JSON.stringify(left()) === JSON.stringify(right());
      case '!=':
        return JSON.stringify(left()) !== JSON.stringify(right());
      case '=~':
        return asString(left()).toLowerCase() === asString(right()).toLowerCase();
      case '!~':
        return asString(left()).toLowerCase() !== asString(right()).toLowerCase();
      default: {
        const a = left() as number;
        const b = right() as number;
        const ops: Record<string, () => Value> = {
          '<': () => a < b,
          '<=': () => a <= b,
          '>': () => a > b,
          '>=': () => a >= b,
          '+': () => a + b,
          '-': () => a - b,
          '*': () => a * b,
          '/': () => Math.trunc(a / b),
          '%': () => a % b,
        };
        return ops[op]!();
      }
    }
  }

  private call(expr: Extract<Expr, { kind: 'call' }>, locals: Map<string, Evaluated>): Value {
    let name: string;
    if (expr.callee.kind === 'ident') name = expr.callee.name;
    else if (
      expr.callee.kind === 'member' &&
      expr.callee.object.kind === 'ident' &&
      NAMESPACES.has(expr.callee.object.name)
    ) {
      name = expr.callee.name;
    } else {
      throw new BicepSyntaxError(this.file.path, expr.line, 'unsupported call');
    }
    const args = () => expr.args.map((a) => this.value(a, locals));
    const str = (i: number) => asString(args()[i]!);
    const fail = (message: string): never => {
      throw new BicepSyntaxError(this.file.path, expr.line, `${name}(): ${message}`);
    };
    switch (name) {
      case 'tenant':
        return { tenantId: PLACEHOLDER.tenantId, displayName: 'Placeholder tenant' };
      case 'subscription':
        return {
          id: `/subscriptions/${PLACEHOLDER.subscriptionId}`,
          subscriptionId: PLACEHOLDER.subscriptionId,
          tenantId: PLACEHOLDER.tenantId,
        };
      case 'resourceGroup':
        return {
          name: PLACEHOLDER.resourceGroup,
          id: `/subscriptions/${PLACEHOLDER.subscriptionId}/resourceGroups/${PLACEHOLDER.resourceGroup}`,
        };
      case 'environment':
        return {
          name: 'AzureCloud',
          authentication: { loginEndpoint: 'https://login.microsoftonline.com/' },
          suffixes: { storage: 'core.windows.net' },
        };
      case 'deployment':
        return { name: 'placeholder-deployment' };
      case 'loadJsonContent': {
        const file = path.resolve(path.dirname(this.file.absolutePath), str(0));
        return JSON.parse(readFileSync(file, 'utf8')) as Value;
      }
      case 'uniqueString': {
        // Like ARM: 13 lowercase letters and digits, stable for the same arguments.
        const digits = BigInt(`0x${hash(args().map(asString).join('|'))}`).toString(36);
        return digits.slice(0, 13).padStart(13, '0');
      }
      case 'guid': {
        const h = hash(args().map(asString).join('|'));
        return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
      }
      case 'toLower':
        return str(0).toLowerCase();
      case 'toUpper':
        return str(0).toUpperCase();
      case 'string':
        return str(0);
      case 'take': {
        const [v, n] = args();
        if (typeof v === 'string' || Array.isArray(v)) return v.slice(0, n as number);
        return fail('needs a string or an array');
      }
      case 'empty': {
        const v = args()[0]!;
        if (v === null) return true;
        if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
        if (isPlainObject(v)) return Object.keys(v).length === 0;
        return fail('needs a string, an array or an object');
      }
      case 'length': {
        const v = args()[0]!;
        if (typeof v === 'string' || Array.isArray(v)) return v.length;
        if (isPlainObject(v)) return Object.keys(v).length;
        return fail('needs a string, an array or an object');
      }
      case 'split':
        return str(0).split(str(1));
      case 'union': {
        const values = args();
        if (values.every(isPlainObject)) return Object.assign({}, ...values) as Value;
        if (values.every(Array.isArray))
          return [...new Set(values.flat().map((v) => JSON.stringify(v)))].map((v) => JSON.parse(v) as Value);
        return fail('needs objects or arrays');
      }
      case 'concat': {
        const values = args();
        if (values.every((v): v is Value[] => Array.isArray(v))) return values.flat();
        return values.map(asString).join('');
      }
      case 'contains': {
        const values = args();
        const container = values[0] ?? null;
        const item = values[1] ?? null;
        if (typeof container === 'string') return container.includes(asString(item));
        if (Array.isArray(container)) return container.some((c) => JSON.stringify(c) === JSON.stringify(item));
        if (isPlainObject(container)) return asString(item) in container;
        return fail('needs a string, an array or an object');
      }
      case 'subscriptionResourceId': {
        const [type, ...names] = args().map(asString);
        return `/subscriptions/${PLACEHOLDER.subscriptionId}/providers/${type}/${names.join('/')}`;
      }
      case 'resourceId': {
        const [type, ...names] = args().map(asString);
        return `/subscriptions/${PLACEHOLDER.subscriptionId}/resourceGroups/${PLACEHOLDER.resourceGroup}/providers/${type}/${names.join('/')}`;
      }
      default:
        return fail('unsupported function: add it to BicepScope.call in test/infra/bicep.ts');
    }
  }
}
