import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseXlConfig, printXlConfig, quoteXlString, xlNumberValue, type XlValue } from '../../../core/config/xl-cfg.js';

/** A value without positions, to compare what was parsed with what was meant. */
type Plain = string | { number: string } | Plain[];
function plain(v: XlValue): Plain {
  if (v.kind === 'string') return v.value;
  if (v.kind === 'number') return { number: v.text };
  return v.items.map(plain);
}
function settingsOf(text: string): Record<string, Plain> {
  const r = parseXlConfig(text, 't.cfg');
  expect(r.errors.map((e) => e.message)).toEqual([]);
  return Object.fromEntries(r.config.settings.map((s) => [s.key, plain(s.value)]));
}
function errorsOf(text: string): string[] {
  return parseXlConfig(text, 't.cfg').errors.map((e) => e.message);
}

describe('parseXlConfig: the syntax', () => {
  it('accepts an empty file and a file of comments', () => {
    expect(settingsOf('')).toEqual({});
    expect(settingsOf('# nothing here\n\n   # at all')).toEqual({});
  });

  it('reads strings in both quotes, numbers, comments and ;', () => {
    expect(settingsOf(`name = "a" # comment\ntype='pvh'; memory = 512;vcpus=0x2\nextra = ""`)).toEqual({
      name: 'a',
      type: 'pvh',
      memory: { number: '512' },
      vcpus: { number: '0x2' },
      extra: '',
    });
  });

  it('accepts a last line without newline', () => {
    expect(settingsOf('memory = 5')).toEqual({ memory: { number: '5' } });
  });

  it('decodes C escapes in double and single quotes', () => {
    expect(settingsOf(String.raw`a = "q\"b\\c\n\t\x41\101" ` + '\n' + String.raw`b = 'it\'s'`)).toEqual({ a: 'q"b\\c\n\tAA', b: "it's" });
  });

  it('reads lists over several lines with a trailing comma, and nested lists', () => {
    expect(settingsOf(`disk = [\n  'a',\n\n  "b",\n]\nvif = [ ]\nx = [ [ "1", 2 ], [] ]`)).toEqual({
      disk: ['a', 'b'],
      vif: [],
      x: [['1', { number: '2' }], []],
    });
  });

  it('appends with += to lists and strings', () => {
    expect(settingsOf(`disk = [ 'a' ]\ndisk += [ 'b' ]\nextra = "x"\nextra += " y"\nnew += [ 'c' ]`)).toEqual({
      disk: ['a', 'b'],
      extra: 'x y',
      new: ['c'],
    });
  });

  it('lets a later = replace an earlier one, with a warning', () => {
    const r = parseXlConfig('memory = 1\nmemory = 2\n', 't.cfg');
    expect(plain(r.config.settings[0]!.value)).toEqual({ number: '2' });
    expect(r.warnings.map((w) => w.message)).toEqual(['t.cfg:2:1: "memory" is set again; this value replaces the one on line 1']);
  });

  it('reads numbers as strtol base 0 does', () => {
    expect(xlNumberValue('512')).toBe(512);
    expect(xlNumberValue('0x1f')).toBe(31);
    expect(xlNumberValue('017')).toBe(15);
    expect(xlNumberValue('12ab')).toBeUndefined();
  });
});

describe('parseXlConfig: errors name file:line:column', () => {
  it('an unterminated string', () => {
    expect(errorsOf('name = "guest\nmemory = 5\n')).toEqual(['t.cfg:1:8: unterminated string: add the closing " (a string ends on the line where it starts)']);
  });

  it('a missing =', () => {
    expect(errorsOf('memory 512\n')).toEqual(['t.cfg:1:8: expected "=" after "memory", found the number 512']);
  });

  it('values without brackets', () => {
    expect(errorsOf("disk = 'a', 'b'\n")).toEqual(['t.cfg:1:11: expected the end of the line after the value of "disk", found "," (a list of values needs [ ])']);
  });

  it('a list that is never closed', () => {
    expect(errorsOf("disk = [ 'a',\n 'b'\n")).toEqual(['t.cfg:3:1: expected "," or "]" in the list, found the end of the file (the list opened at line 1 is not closed)']);
  });

  it('Python-style syntax and upper-case names', () => {
    expect(errorsOf('memory = 512M\nName = "x"\ncpus = (1, 2)\n')).toEqual([
      't.cfg:1:10: "512M" is not a number (xl.cfg numbers are decimal or 0x hex; quote anything else: "512M")',
      't.cfg:2:1: "Name" is not a setting name: names are lower-case letters, digits and "_", starting with a letter (try "name")',
      't.cfg:3:8: unexpected character "(" (xl.cfg is not Python: values are "strings", numbers and [lists])',
    ]);
  });

  it('an unknown escape', () => {
    expect(errorsOf(String.raw`a = "\q"`)).toEqual([String.raw`t.cfg:1:6: unknown escape "\q" in a string (known: \" \' \\ \a \b \f \n \r \t \v \xHH \ooo)`]);
  });

  it('+= on mismatched kinds and numbers', () => {
    expect(errorsOf("a = 'x'\na += [ 'y' ]\nb = 1\nb += 2\n")).toEqual([
      't.cfg:2:1: "+=" appends a string to a string or a list to a list; "a" (line 1) is a string and this is a list',
      't.cfg:4:1: "+=" cannot be used with numbers ("b")',
    ]);
  });

  it('reports every broken line, and keeps the good settings', () => {
    const r = parseXlConfig('a = "x\nb = 1\nc = = 2\nd = [ 1,\n  2 ]\ne 5\n', 't.cfg');
    expect(r.errors.map((e) => (e as unknown as { column: number }).column !== undefined && e.where.line)).toEqual([1, 3, 6]);
    expect(r.config.settings.map((s) => s.key)).toEqual(['b', 'd']);
  });
});

const key = fc.stringMatching(/^[a-z][_0-9a-z]{0,8}$/);
const atom: fc.Arbitrary<Plain> = fc.oneof(
  fc.string({ unit: fc.oneof(fc.constantFrom('"', "'", '\\', '\n', '\t', '\r', '\x07', '\x01', '#', ',', ']', ';', ' ', '='), fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), fc.constantFrom('é', '€')) }),
  fc.oneof(fc.nat().map(String), fc.nat().map((n) => `0x${n.toString(16)}`)).map((number) => ({ number })),
);
const value: fc.Arbitrary<Plain> = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, atom, fc.array(tie('v'), { maxLength: 4 })),
})).v as fc.Arbitrary<Plain>;

function toXl(p: Plain): XlValue {
  if (typeof p === 'string') return { kind: 'string', value: p, line: 0 };
  if (Array.isArray(p)) return { kind: 'list', items: p.map(toXl), line: 0 };
  return { kind: 'number', text: p.number, line: 0 };
}

describe('parseXlConfig: properties', () => {
  it('parse(print(settings)) gives the settings back', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(key, value), { selector: ([k]) => k, maxLength: 8 }), (entries) => {
        const text = printXlConfig(entries.map(([k, v]) => ({ key: k, value: toXl(v) })));
        expect(settingsOf(text)).toEqual(Object.fromEntries(entries));
      }),
    );
  });

  it('a quoted string reads back as itself, in either quote style for plain text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(settingsOf(`k = ${quoteXlString(s)}`)).toEqual({ k: s });
      }),
    );
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', '=', '"', "'", '[', ']', ',', '\n', ' ', '1', '#', ';', '+', '\\') }), (text) => {
        const r = parseXlConfig(text, 'x.cfg');
        for (const e of r.errors) expect(e.message).toMatch(/^x\.cfg:\d+:\d+: /);
      }),
    );
  });
});
