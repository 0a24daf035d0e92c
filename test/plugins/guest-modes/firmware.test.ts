import { describe, expect, it } from 'vitest';
import { E820 } from '../../../core/public/index.js';
import { HvmBootMetadata } from '../../../core/public/index.js';
import { bootMetadata, e820Map, hvmInfoTable, hvmMemory } from '../../../plugins/guest-modes/hvm/index.js';
import { pciIntxGsi } from '../../../plugins/guest-modes/hvm/index.js';

describe('the hvm firmware pieces', () => {
  it('puts RAM past the MMIO hole above 4 GiB and maps it in the E820', () => {
    const m = hvmMemory(5 * 2 ** 18); // 5 GiB
    expect(m.lowMemPgend).toBe(0xf0000);
    expect(m.highMemPgend).toBe(0x100000 + 5 * 2 ** 18 - 0xf0000);
    const map = e820Map(m.lowMemPgend, m.reservedMemPgstart, 0xff000, m.highMemPgend);
    expect(map.at(-1)).toEqual({ base: 2 ** 32, length: (m.highMemPgend - 0x100000) * 4096, type: E820.RAM });
    expect(map.filter((e) => e.type === E820.RAM).reduce((a, e) => a + e.length, 0)).toBe(5 * 2 ** 30 - 0x100000 + 0x9f000);
  });

  it('checksums hvm_info_table over all its bytes, whatever the vCPU count', () => {
    for (const n of [1, 7, 128]) expect(hvmInfoTable(n, n, hvmMemory(4096)).reduce((a, b) => a + b, 0) % 256).toBe(0);
  });

  it('cuts the command line to fit the boot metadata block', () => {
    const block = bootMetadata([{ base: 0, length: 1, type: 1 }], 'x'.repeat(5000));
    expect(block.length).toBeLessThanOrEqual(0x800);
    const view = new DataView(block.buffer);
    expect(view.getUint32(HvmBootMetadata.cmdlineLength, true)).toBe(1023);
  });

  it('routes INTx as Xen hvm_pci_intx_gsi does', () => {
    expect(pciIntxGsi(2, 0)).toBe(24);
    expect(pciIntxGsi(3, 0)).toBe(28);
    expect(pciIntxGsi(31, 3)).toBe(((124 + 3 + 3) & 31) + 16);
  });
});
