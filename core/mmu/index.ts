/** The MMU: page walks, paging modes, TLB, faults, and a page-table builder. */
export * from './address.js';
export * from './faults.js';
export * from './walk-result.js';
export * from './ept-walk.js';
export * from './guest-walker.js';
export * from './permissions.js';
export * from './modes/pv-direct.js';
export * from './modes/hap.js';
export * from './modes/shadow.js';
export * from './paging-modes.js';
export * from './tlb.js';
export * from './mmu.js';
export * from './page-table-builder.js';
export * from './vcpu-guest-access.js';
