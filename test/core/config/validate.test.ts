import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import { validate } from '../../../core/config/validate.js';
import { parseYamlSource } from '../../../core/config/yaml-source.js';

const XenstoredOptions = Type.Object({ accessLog: Type.Boolean(), quota: Type.Optional(Type.Integer({ minimum: 1 })) }, { additionalProperties: false });

describe('validate', () => {
  it('returns nothing for a valid value', () => {
    expect(validate(XenstoredOptions, { accessLog: true })).toEqual([]);
  });

  it('names file, line, key path and plugin, as the plugin host will use it', () => {
    const text = ['name: lab', 'plugins:', '  - credit', '  - name: xenstored', '    options:', '      accessLog: "yes"', ''].join('\n');
    const src = parseYamlSource(text, 'config/machines/lab.yaml');
    const options = (src.value as { plugins: { options: unknown }[] }).plugins[1]!.options;
    const errors = validate(XenstoredOptions, options, { file: 'config/machines/lab.yaml', basePath: 'plugins[1].options', plugin: 'xenstored', lineOf: src.lineOf });
    expect(errors.map((e) => e.message)).toEqual(['config/machines/lab.yaml:6 › plugins[1].options.accessLog (plugin xenstored): expected boolean (true or false), got "yes"']);
  });

  it('reports unknown keys with a suggestion, and every error at once', () => {
    const errors = validate(XenstoredOptions, { acessLog: true, quota: 0, extra: 1 }, { file: 'f.yaml' });
    expect(errors.map((e) => e.message)).toEqual([
      'f.yaml › accessLog: missing required key "accessLog"',
      'f.yaml › acessLog: unknown key "acessLog" (did you mean "accessLog"?)',
      'f.yaml › extra: unknown key "extra" (known keys: accessLog, quota)',
      'f.yaml › quota: must be at least 1, got 0',
    ]);
  });

  it('reports a missing key on the line of its parent', () => {
    const src = parseYamlSource('a:\n  b: {}\n', 'x.yaml');
    const schema = Type.Object({ a: Type.Object({ b: Type.Object({ c: Type.String() }) }) });
    expect(validate(schema, src.value, { file: 'x.yaml', lineOf: src.lineOf }).map((e) => e.message)).toEqual(['x.yaml:2 › a.b.c: missing required key "c"']);
  });

  it('explains a union by the member that fits the value', () => {
    const schema = Type.Array(
      Type.Union([Type.String(), Type.Object({ name: Type.String(), options: Type.Optional(Type.Object({})) }, { additionalProperties: false })]),
    );
    expect(validate(schema, ['credit', { name: 'x', option: {} }]).map((e) => e.detail)).toEqual(['unknown key "option" (did you mean "options"?)']);
  });

  it('lists the choices of an enum with a suggestion', () => {
    const schema = Type.Object({ paging: Type.Union([Type.Literal('hap'), Type.Literal('shadow')]) });
    expect(validate(schema, { paging: 'shadwo' }).map((e) => e.detail)).toEqual(['expected one of "hap", "shadow", got "shadwo" (did you mean "shadow"?)']);
  });

  it('uses a schema\'s own "expected" wording', () => {
    const schema = Type.Object({ memory: Type.String({ pattern: '^\\d+MiB$', expected: 'a size like 512MiB' }) });
    expect(validate(schema, { memory: 'lots' }).map((e) => e.detail)).toEqual(['expected a size like 512MiB, got "lots"']);
  });
});

describe('parseYamlSource', () => {
  it('maps key paths to lines, list items included', () => {
    const src = parseYamlSource('name: lab\ndomains:\n  - a.cfg\n  - { name: x, memory: 5 }\n', 'h.yaml');
    expect(src.lineOf(['name'])).toBe(1);
    expect(src.lineOf(['domains', 1])).toBe(4);
    expect(src.lineOf(['domains', 1, 'memory'])).toBe(4);
    expect(src.lineOf(['nope'])).toBeUndefined();
  });

  it('reports malformed YAML with its line', () => {
    const src = parseYamlSource('name: lab\nmemory: [1GiB\ncpus: 2\n', 'h.yaml');
    expect(src.errors.length).toBeGreaterThan(0);
    expect(src.errors[0]!.message).toMatch(/^h\.yaml:\d+: YAML syntax error: /);
  });

  it('treats a duplicate key as an error', () => {
    const src = parseYamlSource('name: a\nname: b\n', 'h.yaml');
    expect(src.errors.map((e) => e.where.line)).toEqual([2]);
  });
});
