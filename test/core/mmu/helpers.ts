/** Test set-ups: a PV vCPU over machine-frame tables, an HVM vCPU over guest-physical tables and an EPT. */
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { EptP2m } from '../../../core/memory/p2m.js';
import { Mmu, type MmuOptions } from '../../../core/mmu/mmu.js';
import { PageTableBuilder, guestTableSpace, machineTableSpace } from '../../../core/mmu/page-table-builder.js';
import { defaultPagingModes } from '../../../core/mmu/paging-modes.js';
import { P2mType } from '../../../core/api/memory.js';
import { PAGE_SIZE } from '../../../core/public/memory.js';
import { domId, guestFrame } from '../../../core/public/types.js';

export const DOM = domId(3);

/** A PV domain: `frames` data frames; tables in machine frames. */
export function pvSetup(frames = 16, extra: Partial<MmuOptions> = {}) {
  const memory = new HostMachineMemory(4096);
  const data = memory.allocate(DOM, frames);
  const tables = new PageTableBuilder(machineTableSpace(memory, DOM));
  const mmu = new Mmu({ domid: DOM, vcpu: 0, memory, mode: defaultPagingModes().get('pv-direct'), ...extra });
  mmu.writeCr3(tables.root);
  /** Machine address of data frame `i`. */
  const maddrOf = (i: number) => data[i]! * PAGE_SIZE;
  return { memory, data, tables, mmu, maddrOf };
}

/** An auto-translated domain: guest RAM gfn 0..ramFrames-1 mapped ram_rw; tables at gfn 0x10000 up. */
export function hvmSetup(mode: 'hap' | 'shadow', ramFrames = 1024, extra: Partial<MmuOptions> = {}) {
  const memory = new HostMachineMemory(8192);
  const p2m = new EptP2m(memory, DOM);
  const ram = memory.allocate(DOM, ramFrames);
  for (let g = 0; g < ramFrames; g++) p2m.set(guestFrame(g), ram[g]!, P2mType.ram_rw);
  const tables = new PageTableBuilder(guestTableSpace(memory, p2m, DOM, 0x10000));
  const mmu = new Mmu({ domid: DOM, vcpu: 0, memory, mode: defaultPagingModes().get(mode), p2m, ...extra });
  mmu.writeCr3(tables.root);
  return { memory, p2m, ram, tables, mmu };
}
