/** MMU benchmarks: TLB-hit translations, full 4-level pv-direct walks, and HAP nested walks. */
import { HostMachineMemory } from '../../core/memory/machine-memory.js';
import { EptP2m } from '../../core/memory/p2m.js';
import { Mmu } from '../../core/mmu/mmu.js';
import { PageTableBuilder, guestTableSpace, machineTableSpace } from '../../core/mmu/page-table-builder.js';
import { hapMode } from '../../core/mmu/modes/hap.js';
import { pvDirectMode } from '../../core/mmu/modes/pv-direct.js';
import { Access, P2mType } from '../../core/api/memory.js';
import { PAGE_SIZE } from '../../core/public/memory.js';
import { domId, guestFrame } from '../../core/public/types.js';
import { type Benchmark, opsPerSecond } from './harness.js';

const DOM = domId(1);
const PAGES = 256;
const BASE = 0x7f00_0000_0000;
/** Walk benchmarks put each page in its own L1 table. */
const STRIDE = 0x20_0000;

/** A PV vCPU with `PAGES` 4 KiB pages mapped at BASE, `stride` bytes apart. */
function pvSetup(stride: number): Mmu {
  const memory = new HostMachineMemory(1 << 16);
  const data = memory.allocate(DOM, PAGES);
  const tables = new PageTableBuilder(machineTableSpace(memory, DOM));
  for (let i = 0; i < PAGES; i++) tables.map(BASE + i * stride, data[i]! * PAGE_SIZE);
  const mmu = new Mmu({ domid: DOM, vcpu: 0, memory, mode: pvDirectMode });
  mmu.writeCr3(tables.root);
  return mmu;
}

/** An HVM vCPU under HAP: guest RAM and tables mapped by a 4-level EPT. */
function hapSetup(): Mmu {
  const memory = new HostMachineMemory(1 << 16);
  const p2m = new EptP2m(memory, DOM);
  const data = memory.allocate(DOM, PAGES);
  for (let i = 0; i < PAGES; i++) p2m.set(guestFrame(0x100 + i), data[i]!, P2mType.ram_rw);
  const tables = new PageTableBuilder(guestTableSpace(memory, p2m, DOM, 0x10_0000));
  for (let i = 0; i < PAGES; i++) tables.map(BASE + i * STRIDE, (0x100 + i) * PAGE_SIZE);
  const mmu = new Mmu({ domid: DOM, vcpu: 0, memory, mode: hapMode, p2m });
  mmu.writeCr3(tables.root);
  return mmu;
}

function walks(mmu: Mmu): (n: number) => void {
  return (n) => {
    for (let i = 0; i < n; i++) {
      const va = BASE + (i % PAGES) * STRIDE;
      mmu.invlpg(va);
      mmu.translate(va, Access.read);
    }
  };
}

export const benchmarks: Benchmark[] = [
  {
    group: 'mmu',
    name: 'TLB-hit translations',
    unit: 'M translations/s',
    target: { min: 20 },
    run() {
      const mmu = pvSetup(PAGE_SIZE);
      const vas = Array.from({ length: 64 }, (_, i) => BASE + i * PAGE_SIZE + ((i * 8) % PAGE_SIZE));
      for (const va of vas) mmu.translate(va, Access.write);
      let sink = 0;
      const rate = opsPerSecond((n) => {
        for (let i = 0; i < n; i++) sink += mmu.translate(vas[i & 63]!, Access.read);
      });
      const s = mmu.stats;
      return { value: rate / 1e6, detail: `64 hot pages, ${s.misses} misses of ${s.hits + s.misses} (sink ${sink > 0 ? 'ok' : '0'})` };
    },
  },
  {
    group: 'mmu',
    name: 'full 4-level walks (pv-direct)',
    unit: 'M walks/s',
    target: { min: 2 },
    run() {
      const mmu = pvSetup(STRIDE);
      const rate = opsPerSecond(walks(mmu));
      const s = mmu.stats;
      return { value: rate / 1e6, detail: `invlpg + translate over ${PAGES} pages in distinct L1 tables; ${(s.memoryRefs / s.walks).toFixed(1)} refs/walk` };
    },
  },
  {
    group: 'mmu',
    name: 'HAP nested walks (4-level guest over 4-level EPT)',
    unit: 'M walks/s',
    run() {
      const mmu = hapSetup();
      const rate = opsPerSecond(walks(mmu));
      const s = mmu.stats;
      return { value: rate / 1e6, detail: `${(s.memoryRefs / s.walks).toFixed(1)} refs/walk` };
    },
  },
];
