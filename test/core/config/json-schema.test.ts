import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { composeHostJsonSchema, writeHostJsonSchema } from '../../../core/config/json-schema.js';
import { generateConfigReference } from '../../../core/config/reference.js';
import { HostDefinitionSchema } from '../../../core/config/host-schema.js';
import { XL_KEYS } from '../../../core/config/xl-keys.js';

const xenstored = Type.Object({ accessLog: Type.Boolean({ description: 'Log every request.' }) }, { additionalProperties: false });

function everyProperty(schema: unknown, visit: (key: string, prop: Record<string, unknown>) => void): void {
  if (typeof schema !== 'object' || schema === null) return;
  const s = schema as Record<string, unknown>;
  for (const [k, p] of Object.entries((s.properties as Record<string, Record<string, unknown>>) ?? {})) {
    visit(k, p);
    everyProperty(p, visit);
  }
  for (const sub of [s.items, ...((s.anyOf as unknown[]) ?? [])]) everyProperty(sub, visit);
}

describe('composeHostJsonSchema', () => {
  it('checks each named plugin entry\'s options against that plugin\'s schema', () => {
    const schema = composeHostJsonSchema({ xenstored, credit: Type.Object({}, { additionalProperties: false }) });
    const items = (schema.properties as { plugins: { items: { allOf: unknown[] } } }).plugins.items;
    expect(items.allOf).toEqual([
      { if: { type: 'object', properties: { name: { const: 'credit' } }, required: ['name'] }, then: { properties: { options: { type: 'object', properties: {}, additionalProperties: false } } } },
      { if: { type: 'object', properties: { name: { const: 'xenstored' } }, required: ['name'] }, then: { properties: { options: { type: 'object', properties: { accessLog: { type: 'boolean', description: 'Log every request.' } }, required: ['accessLog'], additionalProperties: false } } } },
    ]);
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(schema.additionalProperties).toBe(false);
    expect(JSON.stringify(schema)).not.toContain('"expected"');
  });

  it('writes the schema to a file', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'xeno-schema-')), 'sub', 'host.schema.json');
    writeHostJsonSchema(file, { xenstored });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(composeHostJsonSchema({ xenstored }));
  });
});

describe('the host schema', () => {
  it('describes every property and forbids unknown keys everywhere', () => {
    const undocumented: string[] = [];
    everyProperty(HostDefinitionSchema, (k, p) => {
      if (typeof p.description !== 'string' || p.description === '') undocumented.push(k);
    });
    expect(undocumented).toEqual([]);
    const loose: string[] = [];
    const walk = (s: unknown, at: string): void => {
      if (typeof s !== 'object' || s === null) return;
      const o = s as Record<string, unknown>;
      if (o.type === 'object' && o.additionalProperties !== false && !/options$/.test(at)) loose.push(at);
      for (const [k, p] of Object.entries((o.properties as Record<string, unknown>) ?? {})) walk(p, `${at}.${k}`);
      for (const sub of [o.items, ...((o.anyOf as unknown[]) ?? [])]) walk(sub, at);
    };
    walk(HostDefinitionSchema, 'host');
    expect(loose).toEqual([]);
  });
});

describe('generateConfigReference', () => {
  const md = generateConfigReference({ xenstored });

  it('documents every host key and every xl.cfg key with its status', () => {
    for (const key of ['name', 'cpus', 'cpus.count', 'cost.vmExit', 'dom0.memory', 'plugins', 'devices[].bdf', 'domains', 'run.duration']) expect(md).toContain(`| \`${key}\` |`);
    for (const k of XL_KEYS) expect(md).toContain(`| \`${k.key}\` |`);
    expect(md).toContain('| `vnc` | not yet (warning) |');
    expect(md).toContain('| `seed` | xenoserver only |');
  });

  it('documents plugin options', () => {
    expect(md).toContain('## Plugin `xenstored` options');
    expect(md).toContain('| `accessLog` | boolean | Log every request. **Required.** |');
  });
});
