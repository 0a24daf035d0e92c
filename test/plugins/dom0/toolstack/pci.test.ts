import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PciAssignment, Toolstack, Xenstore, type PciAssignment as PciAssignmentApi, type Toolstack as ToolstackApi, type Xenstore as XenstoreApi } from '../../../../core/api/index.js';
import { guestPhysAddr, pciBdf } from '../../../../core/public/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from './harness.js';

let t: ToolstackHost;
let toolstack: ToolstackApi;
let xs: XenstoreApi;
let pci: PciAssignmentApi;

beforeAll(async () => {
  t = await bootToolstackHost({ devices: [{ bdf: '03:00.0', kind: 'nic', model: 'e1000' }, { bdf: '00:1f.2', kind: 'storage', model: 'ahci' }] });
  toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
  xs = t.host.plugins.resolveAll(Xenstore)[0]!;
  pci = t.host.container.resolve(PciAssignment);
});
afterAll(async () => {
  await t.cleanup();
});

const owners = () => Object.fromEntries(pci.devices().map((d) => [d.bdf, d.owner]));

describe('PCI passthrough (pci=)', () => {
  it('assigns the device to the guest: its DMA lands in the guest’s memory, pciback’s nodes are written; destroy gives it back to Dom0', () => {
    expect(owners()).toEqual({ '0000:03:00.0': 0, '0000:00:1f.2': 0 });
    const rec = settle(t.host, toolstack.create(guest('name = "nicguest"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\npci = [ "03:00.0@5,permissive=1" ]\n'))).result!;
    expect(owners()).toEqual({ '0000:03:00.0': rec.domid, '0000:00:1f.2': 0 });
    // The device's DMA to bus address 0x5000 is the guest's frame 5, through its P2M.
    const bdf = pciBdf(3, 0, 0);
    expect(t.host.iommu.dmaWrite(bdf, 0x5000, Uint8Array.of(1, 2, 3, 4)).ok).toBe(true);
    expect(t.host.domains.lookup(rec.domid).guestMemory.readU32(guestPhysAddr(0x5000))).toBe(0x04030201);
    const be = `/local/domain/0/backend/pci/${rec.domid}/0`;
    expect(xs.dom0.read(`${be}/dev-0`)).toBe('0000:03:00.0');
    expect(xs.dom0.read(`${be}/key-0`)).toBe('0000:03:00.0');
    expect(xs.dom0.read(`${be}/vdevfn-0`)).toBe('28');
    expect(xs.dom0.read(`${be}/opts-0`)).toBe('msitranslate=0,power_mgmt=0,permissive=1,rdm_policy=strict');
    expect(xs.dom0.read(`${be}/num_devs`)).toBe('1');
    expect(xs.dom0.read(`${be}/domain`)).toBe('nicguest');
    expect(xs.dom0.read(`/local/domain/${rec.domid}/device/pci/0/backend`)).toBe(be);

    // A second guest cannot have it while the first does.
    const busy = settle(t.host, toolstack.create(guest('name = "thief"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\npci = [ "0000:03:00.0" ]\n')));
    expect(busy.error?.message).toMatch(/pci\[0\].*0000:03:00.0: the device is assigned to dom/);

    settle(t.host, toolstack.destroy(rec.domid));
    expect(owners()).toEqual({ '0000:03:00.0': 0, '0000:00:1f.2': 0 });
    expect(xs.dom0.read(be)).toBeUndefined();
    // Dom0's DMA again.
    expect(t.host.iommu.ownerOf(bdf)).toBe(0);
  });

  it('refuses a device the host does not have, naming the file and key', () => {
    const r = settle(t.host, toolstack.create(guest('name = "nodev"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\npci = [ "07:00.0" ]\n', '/tmp/nodev.cfg')));
    expect(r.error?.message).toMatch(/nodev\.cfg.*pci\[0\].*no such device on this host \(the machine definition's devices: 0000:03:00.0, 0000:00:1f.2\)/);
    expect(t.host.domains.list().map((d) => d.name)).not.toContain('nodev');
  });

  it('assign / deassign follow Xen’s errors', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "plain"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\n'))).result!;
    expect(() => pci.assign('0000:09:00.0', rec.domid)).toThrow(/ENODEV|no PCI device/);
    pci.assign('00:1f.2', rec.domid);
    expect(() => pci.deassign('00:1f.2', 0)).toThrow(/not assigned to dom0/);
    pci.deassign('0000:00:1f.2', rec.domid);
    expect(owners()['0000:00:1f.2']).toBe(0);
    settle(t.host, toolstack.destroy(rec.domid));
  });
});
