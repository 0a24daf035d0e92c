import { describe, expect, it } from 'vitest';
import { pvSetup, DOM } from './helpers.js';
import { PagingModeRegistry, defaultPagingModes } from '../../../core/mmu/paging-modes.js';
import { Mmu } from '../../../core/mmu/mmu.js';
import { pvDirectMode } from '../../../core/mmu/modes/pv-direct.js';
import type { PagingMode } from '../../../core/api/memory.js';

describe('paging mode registry', () => {
  it('holds the core modes by name', () => {
    expect(defaultPagingModes().names()).toEqual(['pv-direct', 'hap', 'shadow']);
  });

  it('lets a plugin add a mode by name and an MMU use it', () => {
    const registry = defaultPagingModes();
    let walks = 0;
    const counting: PagingMode = {
      name: 'counting',
      needsP2m: false,
      createWalker(context) {
        const inner = pvDirectMode.createWalker(context);
        return { walk: (cr3, va, access, control, out) => (walks++, inner.walk(cr3, va, access, control, out)) };
      },
    };
    registry.register(counting);
    const { tables, memory, maddrOf } = pvSetup();
    tables.map(0x1000, maddrOf(0));
    const mmu = new Mmu({ domid: DOM, vcpu: 1, memory, mode: registry.get('counting') });
    mmu.writeCr3(tables.root);
    expect(mmu.translate(0x1000)).toBe(maddrOf(0));
    expect(walks).toBe(1);
  });

  it('refuses duplicate and unknown names, listing the known ones', () => {
    const registry = new PagingModeRegistry([pvDirectMode]);
    expect(() => registry.register(pvDirectMode)).toThrow(/already registered/);
    expect(() => registry.get('ept')).toThrow('unknown paging mode "ept" (known: pv-direct)');
  });

  it('refuses a p2m-based mode without a p2m', () => {
    const { memory } = pvSetup();
    expect(() => new Mmu({ domid: DOM, vcpu: 0, memory, mode: defaultPagingModes().get('hap') })).toThrow(/needs the domain's p2m/);
  });
});
