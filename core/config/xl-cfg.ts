/**
 * The xl.cfg(5) file syntax as libxlu parses it (tools/libs/util/libxlu_cfg_l.l and _y.y): `key = value`
 * and `key += value` settings ended by a newline or `;`, `#` comments, single- or double-quoted strings
 * with C escapes, numbers (kept as written; read like strtol base 0), and lists that may nest, span
 * lines and end with a comma. Also prints settings back in that syntax.
 */
import { ConfigError } from '../api/errors.js';

/** A position in a file: 1-based line and column. */
export interface XlPosition {
  line: number;
  column?: number;
}

/** A quoted string (escapes already decoded). */
export interface XlString extends XlPosition {
  kind: 'string';
  value: string;
}
/** A bare number, kept as written (`512`, `0x1f`, `017`): libxlu stores numbers as text too. */
export interface XlNumber extends XlPosition {
  kind: 'number';
  text: string;
}
/** A `[ ... ]` list. */
export interface XlList extends XlPosition {
  kind: 'list';
  items: XlValue[];
}
/** A value on the right of `=`. */
export type XlValue = XlString | XlNumber | XlList;

/** One setting after `+=` has been applied: the last assignment of `key`, where it was written. */
export interface XlSetting extends XlPosition {
  key: string;
  value: XlValue;
}

/** A parsed xl.cfg file. `settings` is in order of first appearance, one per key. */
export interface XlConfig {
  file: string;
  settings: XlSetting[];
}

/** A syntax error at a line and column: its message reads `file:line:column: detail`. */
export class ConfigSyntaxError extends ConfigError {
  readonly column: number;
  constructor(detail: string, where: { file: string; line: number; column: number }) {
    super(detail, where);
    this.column = where.column;
  }
}

type TokenType = 'ident' | 'number' | 'string' | 'newline' | ',' | '[' | ']' | '=' | '+=' | ';' | 'eof' | 'bad';
interface Token {
  type: TokenType;
  text: string;
  value?: string;
  line: number;
  column: number;
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', "'": "'", '\\': '\\', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

class Lexer {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  constructor(
    private readonly text: string,
    private readonly error: (detail: string, line: number, column: number) => void,
  ) {}

  next(): Token {
    const t = this.text;
    for (;;) {
      const c = t[this.pos];
      if (c === ' ' || c === '\t' || (c === '\r' && t[this.pos + 1] === '\n')) this.pos++;
      else if (c === '#') while (this.pos < t.length && t[this.pos] !== '\n') this.pos++;
      else break;
    }
    const line = this.line;
    const column = this.pos - this.lineStart + 1;
    const start = this.pos;
    const c = t[this.pos];
    const tok = (type: TokenType, text: string, value?: string): Token => ({ type, text, line, column, ...(value !== undefined ? { value } : {}) });
    if (c === undefined) return tok('eof', '');
    if (c === '\n') {
      this.pos++;
      this.line++;
      this.lineStart = this.pos;
      return tok('newline', '\n');
    }
    if (/[A-Za-z_]/.test(c)) {
      while (this.pos < t.length && /[A-Za-z0-9_]/.test(t[this.pos]!)) this.pos++;
      const word = t.slice(start, this.pos);
      if (!/^[a-z][_0-9a-z]*$/.test(word)) {
        this.error(`"${word}" is not a setting name: names are lower-case letters, digits and "_", starting with a letter${/[A-Z]/.test(word) ? ` (try "${word.toLowerCase()}")` : ''}`, line, column);
        return tok('bad', word);
      }
      return tok('ident', word);
    }
    if (/[0-9]/.test(c)) {
      while (this.pos < t.length && /[0-9a-fx]/.test(t[this.pos]!)) this.pos++;
      if (this.pos < t.length && /[A-Za-z.]/.test(t[this.pos]!)) {
        while (this.pos < t.length && /[A-Za-z0-9.]/.test(t[this.pos]!)) this.pos++;
        const word = t.slice(start, this.pos);
        this.error(`${JSON.stringify(word)} is not a number (xl.cfg numbers are decimal or 0x hex; quote anything else: "${word}")`, line, column);
        return tok('bad', word);
      }
      return tok('number', t.slice(start, this.pos));
    }
    if (c === '"' || c === "'") return this.string(c, line, column);
    if (c === '+' && t[this.pos + 1] === '=') {
      this.pos += 2;
      return tok('+=', '+=');
    }
    if (c === ',' || c === '[' || c === ']' || c === '=' || c === ';') {
      this.pos++;
      return tok(c, c);
    }
    this.pos++;
    const python = '+-.():{}'.includes(c) ? ' (xl.cfg is not Python: values are "strings", numbers and [lists])' : '';
    this.error(`unexpected character ${JSON.stringify(c)}${python}`, line, column);
    return tok('bad', c);
  }

  private string(quote: string, line: number, column: number): Token {
    const t = this.text;
    this.pos++;
    let value = '';
    for (;;) {
      const c = t[this.pos];
      if (c === undefined || c === '\n') {
        this.error(`unterminated string: add the closing ${quote} (a string ends on the line where it starts)`, line, column);
        return { type: 'bad', text: quote, line, column };
      }
      this.pos++;
      if (c === quote) return { type: 'string', text: quote, value, line, column };
      if (c !== '\\') {
        value += c;
        continue;
      }
      const escCol = this.pos - this.lineStart;
      const n = t[this.pos];
      if (n === undefined || n === '\n') continue;
      this.pos++;
      const simple = ESCAPES[n];
      if (simple !== undefined) {
        value += simple;
      } else if (n === 'x') {
        const hex = /^[0-9A-Fa-f]{2}/.exec(t.slice(this.pos, this.pos + 2));
        if (!hex) {
          this.error('"\\x" must be followed by two hex digits', line, escCol);
        } else {
          value += String.fromCharCode(parseInt(hex[0], 16));
          this.pos += 2;
        }
      } else if (n >= '0' && n <= '7') {
        const oct = /^[0-7]{1,3}/.exec(t.slice(this.pos - 1, this.pos + 2))![0];
        value += String.fromCharCode(parseInt(oct, 8) & 0xff);
        this.pos += oct.length - 1;
      } else {
        this.error(`unknown escape "\\${n}" in a string (known: \\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v \\xHH \\ooo)`, line, escCol);
      }
    }
  }
}

function describe(tok: Token): string {
  switch (tok.type) {
    case 'newline':
      return 'the end of the line';
    case 'eof':
      return 'the end of the file';
    case 'string':
      return `the string "${tok.value ?? ''}"`;
    case 'number':
      return `the number ${tok.text}`;
    case 'ident':
      return `"${tok.text}"`;
    default:
      return `"${tok.text}"`;
  }
}

/** Result of {@link parseXlConfig}: the settings, every syntax error (all of them, not only the first) and warnings. */
export interface XlParseResult {
  config: XlConfig;
  errors: ConfigError[];
  warnings: ConfigError[];
}

/** Signals a syntax error already reported; unwinds to the statement loop. */
class Recover extends Error {}

/**
 * Parses xl.cfg text. Errors carry `file:line:column`; after an error the parser resumes at the next
 * statement, as libxlu does, so every broken line of a file is reported at once.
 */
export function parseXlConfig(text: string, file: string): XlParseResult {
  const errors: ConfigError[] = [];
  const warnings: ConfigError[] = [];
  const errorLines = new Set<number>();
  const report = (detail: string, line: number, column: number): void => {
    if (errorLines.has(line)) return;
    errorLines.add(line);
    errors.push(new ConfigSyntaxError(detail, { file, line, column }));
  };
  const lexer = new Lexer(text, report);
  let tok = lexer.next();
  const cur = (): Token => tok;
  const advance = (): Token => {
    const t = tok;
    tok = lexer.next();
    return t;
  };
  const fail = (detail: string, at: Token = tok): never => {
    report(detail, at.line, at.column);
    throw new Recover();
  };
  const skipNewlines = (): void => {
    while (cur().type === 'newline') advance();
  };

  const settings = new Map<string, XlSetting>();
  const order: string[] = [];

  const parseValue = (after: string): XlValue => {
    const t = tok;
    if (t.type === 'string') {
      advance();
      return { kind: 'string', value: t.value ?? '', line: t.line, column: t.column };
    }
    if (t.type === 'number') {
      advance();
      return { kind: 'number', text: t.text, line: t.line, column: t.column };
    }
    if (t.type === '[') {
      advance();
      skipNewlines();
      const items: XlValue[] = [];
      while (cur().type !== ']') {
        items.push(parseValue('"[" or ","'));
        skipNewlines();
        if (cur().type === ',') {
          advance();
          skipNewlines();
        } else if (cur().type !== ']') {
          fail(`expected "," or "]" in the list, found ${describe(cur())}${cur().type === 'eof' ? ` (the list opened at line ${t.line} is not closed)` : ''}`);
        }
      }
      advance();
      return { kind: 'list', items, line: t.line, column: t.column };
    }
    if (t.type === 'bad') throw new Recover();
    return fail(`expected a value after ${after} (a "string", a number or a [list]), found ${describe(t)}`);
  };

  const parseStatement = (): void => {
    if (cur().type === 'newline' || cur().type === ';') {
      advance();
      return;
    }
    if (cur().type === 'bad') throw new Recover();
    if (cur().type !== 'ident') fail(`expected a setting name, found ${describe(cur())}`);
    const name = advance();
    if (cur().type !== '=' && cur().type !== '+=') fail(`expected "=" after "${name.text}", found ${describe(cur())}`);
    const op = advance().type;
    const value = parseValue(`"${name.text} ${op}"`);
    if (cur().type !== 'newline' && cur().type !== ';' && cur().type !== 'eof') {
      const hint = cur().type === ',' && value.kind !== 'list' ? ' (a list of values needs [ ])' : '';
      fail(`expected the end of the line after the value of "${name.text}", found ${describe(cur())}${hint}`);
    }
    store(name, op === '+=', value);
  };

  const store = (name: Token, append: boolean, value: XlValue): void => {
    const key = name.text;
    const prev = settings.get(key);
    if (append && (value.kind === 'number' || prev?.value.kind === 'number')) fail(`"+=" cannot be used with numbers ("${key}")`, name);
    let merged = value;
    if (append && prev !== undefined) {
      if (prev.value.kind === 'list' && value.kind === 'list') merged = { ...value, items: [...prev.value.items, ...value.items] };
      else if (prev.value.kind === 'string' && value.kind === 'string') merged = { ...value, value: prev.value.value + value.value };
      else fail(`"+=" appends a string to a string or a list to a list; "${key}" (line ${prev.line}) is ${kindName(prev.value)} and this is ${kindName(value)}`, name);
    } else if (!append && prev !== undefined) {
      warnings.push(new ConfigSyntaxError(`"${key}" is set again; this value replaces the one on line ${prev.line}`, { file, line: name.line, column: name.column }));
    }
    if (prev === undefined) order.push(key);
    settings.set(key, { key, value: merged, line: name.line, column: name.column });
  };

  while (cur().type !== 'eof') {
    try {
      parseStatement();
    } catch (e) {
      if (!(e instanceof Recover)) throw e;
      let depth = 0;
      while (cur().type !== 'eof' && !(cur().type === 'newline' && depth <= 0)) {
        if (cur().type === '[') depth++;
        if (cur().type === ']') depth--;
        advance();
      }
    }
  }
  return { config: { file, settings: order.map((k) => settings.get(k)!) }, errors, warnings };
}

function kindName(v: XlValue): string {
  return v.kind === 'list' ? 'a list' : v.kind === 'string' ? 'a string' : 'a number';
}

/** Reads a number atom as libxlu does (strtol base 0): `0x` hex, leading `0` octal, else decimal. */
export function xlNumberValue(text: string): number | undefined {
  const t = text.trim();
  let m: RegExpExecArray | null;
  if ((m = /^([+-]?)0[xX]([0-9a-fA-F]+)$/.exec(t))) return (m[1] === '-' ? -1 : 1) * parseInt(m[2]!, 16);
  if ((m = /^([+-]?)0([0-7]+)$/.exec(t))) return (m[1] === '-' ? -1 : 1) * parseInt(m[2]!, 8);
  if (/^[+-]?\d+$/.test(t)) return Number(t);
  return undefined;
}

const PRINT_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', '\\': '\\\\', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** A string in double quotes with every character escaped that needs it. */
export function quoteXlString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const e = PRINT_ESCAPES[ch];
    if (e !== undefined) out += e;
    else if (ch.charCodeAt(0) < 0x20 || ch === '\x7f') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Renders one value in xl.cfg syntax; lists longer than a line go one item per line with a trailing comma. */
export function printXlValue(value: XlValue, indent = ''): string {
  if (value.kind === 'string') return quoteXlString(value.value);
  if (value.kind === 'number') return value.text;
  const items = value.items.map((v) => printXlValue(v, `${indent}    `));
  const flat = `[ ${items.join(', ')} ]`;
  if (value.items.length === 0) return '[ ]';
  if (flat.length <= 72 && !flat.includes('\n')) return flat;
  return `[\n${items.map((i) => `${indent}    ${i},\n`).join('')}${indent}]`;
}

/** Renders settings as an xl.cfg file, one `key = value` per line. */
export function printXlConfig(settings: readonly { key: string; value: XlValue }[]): string {
  return settings.map((s) => `${s.key} = ${printXlValue(s.value)}\n`).join('');
}
