import { describe, expect, it } from 'vitest';
import { LazyCatalog, StaticCatalog, manifestFromModule, restrictCatalog } from '../../../core/plugin-host/catalog.js';
import { startOrder } from '../../../core/plugin-host/order.js';
import { closeMatches } from '../../../core/config/suggest.js';
import { IN_TREE_PLUGINS, treeCatalog } from '../../../plugins/catalog.js';
import { manifest } from './helpers.js';

describe('catalogs', () => {
  it('finds a module\'s manifest in its default export, else its `plugin` export', () => {
    const m = manifest('a');
    expect(manifestFromModule({ default: m })).toBe(m);
    expect(manifestFromModule({ plugin: m })).toBe(m);
    expect(manifestFromModule({ default: { plugin: m } })).toBe(m);
    expect(manifestFromModule({ other: m })).toBeUndefined();
  });

  it('imports a lazy catalog\'s plugin only when it is loaded', async () => {
    let imported = 0;
    const catalog = new LazyCatalog('tree', {
      b: { folder: 'plugins/b', load: async () => ((imported++, { default: manifest('b') })) },
      a: { folder: 'plugins/a', load: async () => ({ default: manifest('a') }) },
    });
    expect(catalog.names()).toEqual(['a', 'b']);
    expect(imported).toBe(0);
    expect(await catalog.load('b')).toMatchObject({ name: 'b' });
    expect(imported).toBe(1);
    expect(catalog.source('a')).toBe('plugins/a');
    await expect(catalog.load('c')).rejects.toThrow('plugin "c" is not in build "tree"');
  });

  it('restricts a catalog to a build and remembers the rest of the tree', async () => {
    const full = new StaticCatalog('tree', { credit: { manifest: manifest('credit') }, template: { manifest: manifest('template') } });
    const minimal = restrictCatalog(full, 'minimal', ['credit', 'not-a-plugin'], ['X86_64']);
    expect(minimal.names()).toEqual(['credit']);
    expect(minimal.has('template')).toBe(false);
    expect(minimal.treeNames?.()).toEqual(['credit', 'template']);
    expect(minimal.coreFeatures?.()).toEqual(['X86_64']);
    await expect(minimal.load('template')).rejects.toThrow('plugin "template" is not in build "minimal"');
  });

  it('lists every in-tree plugin folder in the tree catalog', () => {
    expect(treeCatalog.names()).toEqual(Object.keys(IN_TREE_PLUGINS).sort());
    expect(treeCatalog.names()).toEqual(expect.arrayContaining(['credit', 'template']));
    for (const name of treeCatalog.names()) expect(treeCatalog.source(name)).toMatch(/^plugins\//);
  });
});

describe('start order', () => {
  it('puts dependencies first and breaks ties by name', () => {
    expect(startOrder([{ name: 'c', dependencies: [] }, { name: 'a', dependencies: ['d'] }, { name: 'b', dependencies: [] }, { name: 'd', dependencies: ['c'] }])).toEqual({ ok: true, order: ['b', 'c', 'd', 'a'] });
  });

  it('names a cycle, including a plugin that depends on itself', () => {
    expect(startOrder([{ name: 'x', dependencies: ['y'] }, { name: 'y', dependencies: ['x'] }, { name: 'z', dependencies: ['x'] }])).toEqual({ ok: false, cycle: ['x', 'y', 'x'] });
    expect(startOrder([{ name: 'self', dependencies: ['self'] }])).toEqual({ ok: false, cycle: ['self', 'self'] });
  });
});

describe('close matches', () => {
  it('suggests the closest names first, including swapped letters', () => {
    expect(closeMatches('crdeit', ['credit', 'credit2', 'template'])).toEqual(['credit', 'credit2']);
    expect(closeMatches('netfrnt', ['netfront', 'blkfront', 'xenstored'])).toEqual(['netfront']);
    expect(closeMatches('credi', ['credit2', 'credit', 'template'])).toEqual(['credit', 'credit2']);
    expect(closeMatches('B', ['A', 'C'])).toEqual([]);
    expect(closeMatches('zzz', ['credit'])).toEqual([]);
  });
});
