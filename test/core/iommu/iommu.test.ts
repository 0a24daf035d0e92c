import { describe, expect, it } from 'vitest';
import { HostMachineMemory } from '../../../core/memory/machine-memory.js';
import { EptP2m } from '../../../core/memory/p2m.js';
import { Iommu, formatIommuFault } from '../../../core/iommu/iommu.js';
import { P2mType } from '../../../core/api/memory.js';
import { Engine, TraceKind } from '../../../core/engine/index.js';
import { domId, guestFrame, pciBdf } from '../../../core/public/types.js';

const dom = domId(2);
const nic = pciBdf(0, 3, 0);

function setup(engine?: Engine) {
  const memory = new HostMachineMemory(64);
  const p2m = new EptP2m(memory, dom);
  const ram = memory.allocate(dom, 3);
  p2m.set(guestFrame(0x10), ram[0]!, P2mType.ram_rw);
  p2m.set(guestFrame(0x11), ram[1]!, P2mType.ram_rw);
  p2m.set(guestFrame(0x12), ram[2]!, P2mType.grant_map_ro);
  const iommu = new Iommu(memory, engine ? { engine } : {});
  return { memory, p2m, ram, iommu };
}

describe('Iommu', () => {
  it('lets an attached device read and write its owner\'s memory through the p2m', () => {
    const { memory, p2m, ram, iommu } = setup();
    iommu.attach(nic, dom, p2m);
    const port = iommu.device(nic);
    expect(port.write(0x10ffe, new Uint8Array([1, 2, 3, 4]))).toEqual({ ok: true, value: undefined });
    expect(memory.frameBytes(ram[1]!)[1]).toBe(4);
    const read = port.read(0x10ffe, 4);
    expect(read.ok && [...read.value]).toEqual([1, 2, 3, 4]);
    expect(iommu.ownerOf(nic)).toBe(dom);
  });

  it('faults DMA from a device that is not attached, logging and tracing it', () => {
    const engine = new Engine();
    const { memory, iommu, ram } = setup(engine);
    const result = iommu.dmaWrite(nic, 0x10000, new Uint8Array([0xff]));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.fault).toMatchObject({ bdf: nic, addr: 0x10000, reason: 'not-attached', domid: undefined, write: true });
    expect(memory.isBacked(ram[0]!)).toBe(false);
    expect(iommu.faultCount).toBe(1);
    expect(engine.trace.count(TraceKind.IommuFault)).toBe(1);
    expect(formatIommuFault(iommu.faults[0]!)).toBe('iommu: 00:03.0 (unattached) DMA write to 0x10000 refused: not-attached');
  });

  it('faults a write that reaches a read-only mapping and writes none of it', () => {
    const { memory, p2m, iommu, ram } = setup();
    iommu.attach(nic, dom, p2m);
    const result = iommu.dmaWrite(nic, 0x11ff0, new Uint8Array(32).fill(0xee));
    expect(!result.ok && result.fault).toMatchObject({ addr: 0x12000, reason: 'read-only', domid: dom });
    expect(memory.isBacked(ram[1]!)).toBe(false);
    expect(iommu.dmaRead(nic, 0x12000, 16).ok).toBe(true);
  });

  it('faults unmapped addresses and DMA after detach', () => {
    const { p2m, iommu } = setup();
    iommu.attach(nic, dom, p2m);
    const r = iommu.dmaRead(nic, 0x20000, 4);
    expect(!r.ok && r.fault.reason).toBe('unmapped');
    iommu.detach(nic);
    const w = iommu.dmaWrite(nic, 0x10000, new Uint8Array(4));
    expect(!w.ok && w.fault.reason).toBe('not-attached');
    expect(() => iommu.detach(nic)).toThrow(/not attached/);
  });

  it('refuses to attach a device twice or with another domain\'s p2m', () => {
    const { p2m, iommu } = setup();
    iommu.attach(nic, dom, p2m);
    expect(() => iommu.attach(nic, domId(7), p2m)).toThrow(/already attached to dom2/);
    expect(() => iommu.attach(pciBdf(0, 4, 0), domId(7), p2m)).toThrow(/dom2's, not dom7's/);
    expect(iommu.detachDomain(dom)).toBe(1);
  });

  it('keeps a bounded fault log and a running count', () => {
    const memory = new HostMachineMemory(8);
    const iommu = new Iommu(memory, { faultLogSize: 2 });
    for (let i = 0; i < 5; i++) iommu.dmaRead(nic, i * 0x1000, 1);
    expect(iommu.faultCount).toBe(5);
    expect(iommu.faults.map((f) => f.addr)).toEqual([0x3000, 0x4000]);
  });
});
