import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventChannels, GrantTables, GuestMemory, HvmParams, Toolstack, Xenstore, type Toolstack as ToolstackApi, type Xenstore as XenstoreApi } from '../../../../core/api/index.js';
import { HVM_PARAM, HVM_START_MAGIC, PV_START_INFO_MAGIC, PvStartInfo, guestPhysAddr, domId, grantRef } from '../../../../core/public/index.js';
import { bootToolstackHost, guest, settle, type ToolstackHost } from './harness.js';
import { writeFileSync } from 'node:fs';
import { virtualDevice } from '../../../../plugins/dom0/toolstack/devices.js';

let t: ToolstackHost;
let toolstack: ToolstackApi;
let xs: XenstoreApi;

beforeAll(async () => {
  t = await bootToolstackHost();
  toolstack = t.host.plugins.resolveAll(Toolstack)[0]!;
  xs = t.host.plugins.resolveAll(Xenstore)[0]!;
});
afterAll(async () => {
  await t.cleanup();
});

const PVH = 'name = "small"\ntype = "pvh"\nkernel = "idle"\nmemory = 32\nvcpus = 2\nmaxvcpus = 3\n';

/** What must come back when a domain goes: frames, domids, xenstore nodes, Dom0's ports. */
function counts() {
  const evtchn = t.host.container.resolve(EventChannels);
  return { free: t.host.memory.freeFrames, domains: t.host.domains.size, nodes: xs.nodeCount(), dom0Ports: evtchn.portsInUse(domId(0)), attached: xs.attachedDomains().length };
}

describe('the domain builder', () => {
  it('builds a PVH guest: memory, hvm_start_info, rings, event channels, grants, HVM params, vCPU state', () => {
    const job = settle(t.host, toolstack.create(guest(PVH)));
    expect(job.error).toBeUndefined();
    const rec = job.result!;
    const d = t.host.domains.lookup(rec.domid);
    expect(d.name).toBe('small');
    expect(d.state).not.toBe('paused');
    expect(d.totPages).toBe((32 * 256) + 2);
    const mem = d.guestMemory;
    expect(mem.readU32(guestPhysAddr(0x1000))).toBe(HVM_START_MAGIC);
    const params = d.hvmParams;
    // The domain's container, made on this first use, holds the same state under the core's tokens.
    expect(d.container.resolve(GuestMemory)).toBe(mem);
    expect(d.container.resolve(HvmParams)).toBe(params);
    expect(params.get(HVM_PARAM.STORE_PFN)).toBe(0xfeffcn);
    expect(params.get(HVM_PARAM.CONSOLE_PFN)).toBe(0xfefffn);
    expect(Number(params.get(HVM_PARAM.STORE_EVTCHN))).toBe(rec.store.port);
    const evtchn = t.host.container.resolve(EventChannels);
    const st = evtchn.status(d.domid, rec.console.port as never);
    expect(st).toMatchObject({ status: 'unbound' });
    const gnttab = t.host.container.resolve(GrantTables);
    expect(gnttab.entry(d.domid, grantRef(1))?.frame).toBe(0xfeffc);
    expect(d.vcpus[0]!.context.rbx).toBe(0x1000);
    expect(d.vcpus.map((v) => v.isUp)).toEqual([true, false, false]);
    expect(xs.isIntroduced(d.domid)).toBe(true);
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('writes the xenstore home as libxl does, with its permissions', () => {
    const rec = settle(t.host, toolstack.create(guest(PVH))).result!;
    const home = `/local/domain/${rec.domid}`;
    const x = xs.dom0;
    expect(x.read(`${home}/name`)).toBe('small');
    expect(x.read(`${home}/domid`)).toBe(String(rec.domid));
    expect(x.read(`${home}/vm`)).toBe(`/vm/${rec.uuid}`);
    expect(x.read(`/vm/${rec.uuid}/name`)).toBe('small');
    expect(x.read(`${home}/memory/target`)).toBe(String(32 * 1024));
    expect(x.read(`${home}/memory/static-max`)).toBe(String(32 * 1024));
    expect(['0', '1', '2'].map((i) => x.read(`${home}/cpu/${i}/availability`))).toEqual(['online', 'online', 'offline']);
    expect(x.read(`${home}/console/ring-ref`)).toBe(String(0xfefff));
    expect(x.read(`${home}/console/port`)).toBe(String(rec.console.port));
    expect(x.read(`${home}/store/port`)).toBe(String(rec.store.port));
    expect(x.read(`${home}/console/tty`)).toBe(`${t.runDir}/console/${rec.domid}.sock`);
    expect(x.getPerms(home)).toEqual(['n0', `r${rec.domid}`]);
    expect(x.getPerms(`${home}/control/shutdown`)).toEqual([`n${rec.domid}`]);
    expect(x.getPerms(`${home}/data`)).toEqual([`n${rec.domid}`]);
    expect(x.read(`${home}/control/platform-feature-xs_reset_watches`)).toBe('1');
    expect(x.read(`/local/domain/0/backend/console/${rec.domid}/0/frontend`)).toBe(`${home}/console`);
    expect(x.read(`/libxl/${rec.domid}/type`)).toBe('pvh');
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('writes the split-driver device directories libxl writes, both ends at Initialising', () => {
    const cfg = guest(`${PVH}disk = [ '/tmp/xeno-disk.img,raw,xvdb,ro', ',,hdc:cdrom,r' ]\nvif = [ 'bridge=xenbr1', 'mac=00:16:3e:aa:bb:cc,devid=5' ]\n`);
    writeFileSync('/tmp/xeno-disk.img', new Uint8Array(4096));
    const rec = settle(t.host, toolstack.create(cfg)).result!;
    const x = xs.dom0;
    const fe = `/local/domain/${rec.domid}/device`;
    const be = `/local/domain/0/backend`;
    expect(x.directory(`${fe}/vbd`)).toEqual(['51728', '5632']);
    expect(x.read(`${fe}/vbd/51728/backend`)).toBe(`${be}/vbd/${rec.domid}/51728`);
    expect(x.read(`${fe}/vbd/51728/state`)).toBe('1');
    expect(x.read(`${be}/vbd/${rec.domid}/51728/params`)).toBe('/tmp/xeno-disk.img');
    expect(x.read(`${be}/vbd/${rec.domid}/51728/mode`)).toBe('r');
    // An empty CD-ROM drive is QEMU's (qdisk), as libxl picks; its frontend is still a vbd.
    expect(x.read(`${fe}/vbd/5632/backend`)).toBe(`${be}/qdisk/${rec.domid}/5632`);
    expect(x.read(`${be}/qdisk/${rec.domid}/5632/device-type`)).toBe('cdrom');
    expect(x.getPerms(`${fe}/vbd/51728`)).toEqual([`n${rec.domid}`, 'r0']);
    expect(x.getPerms(`${be}/vbd/${rec.domid}/51728`)).toEqual(['n0', `r${rec.domid}`]);
    expect(x.directory(`${fe}/vif`)).toEqual(['0', '5']);
    expect(x.read(`${fe}/vif/0/mac`)).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    expect(x.read(`${be}/vif/${rec.domid}/0/bridge`)).toBe('xenbr1');
    expect(x.read(`${fe}/vif/5/mac`)).toBe('00:16:3e:aa:bb:cc');
    expect(rec.warnings).toEqual([]);
    settle(t.host, toolstack.destroy(rec.domid));
    expect(x.directory(`${be}/vbd`)).toEqual([]);
    expect(x.directory(`${be}/vif`)).toEqual([]);
  });

  it('encodes virtual-device numbers as xen-vbd-interface(7) does', () => {
    expect(['xvda', 'xvdb', 'xvda1', 'sda', 'hda', 'hdc', 'xvdq', 'd0p1'].map(virtualDevice)).toEqual([51712, 51728, 51713, 2048, 768, 5632, (1 << 28) | (16 << 8), (1 << 28) | 1]);
    expect(virtualDevice('floppy')).toBeUndefined();
  });

  it('builds a PV guest: start_info with the machine frames of its rings and the P2M list', () => {
    const rec = settle(t.host, toolstack.create(guest('name = "pv1"\ntype = "pv"\nkernel = "idle"\nmemory = 16\ncmdline = "console=hvc0"\n'))).result!;
    const d = t.host.domains.lookup(rec.domid);
    const mem = d.guestMemory;
    expect(Buffer.from(mem.read(guestPhysAddr(0x2000), 14)).toString('ascii')).toBe(PV_START_INFO_MAGIC);
    const info = new DataView(mem.read(guestPhysAddr(0x2000), 1168).buffer.slice(0));
    const storeMfn = Number(info.getBigUint64(PvStartInfo.storeMfn, true));
    const p2m = t.host.p2mOf(rec.domid)!;
    expect(p2m.lookup(3 as never)?.mfn).toBe(storeMfn);
    const list = new DataView(mem.read(guestPhysAddr(0x100000 + 3 * 8), 8).buffer.slice(0));
    expect(Number(list.getBigUint64(0, true))).toBe(storeMfn);
    expect(info.getUint32(PvStartInfo.storeEvtchn, true)).toBe(rec.store.port);
    expect(Buffer.from(mem.read(guestPhysAddr(0x2000 + PvStartInfo.cmdLine), 12)).toString()).toBe('console=hvc0');
    expect(d.vcpus[0]!.context.rsi).toBe(0x2000);
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('gives back everything on destroy: frames, domid, xenstore nodes, ports, ring', () => {
    const before = counts();
    const recs = [0, 1, 2].map((i) => settle(t.host, toolstack.create(guest(PVH.replace('"small"', `"g${i}"`)))).result!);
    expect(counts().domains).toBe(before.domains + 3);
    for (const r of recs) settle(t.host, toolstack.destroy(r.domid));
    expect(counts()).toEqual(before);
    expect(toolstack.list()).toEqual([]);
  });

  it('refuses bad configurations naming the file and key, and the host carries on with nothing leaked', () => {
    const before = counts();
    const dup = settle(t.host, toolstack.create(guest('name = "Domain-0"\ntype = "pvh"\nkernel = "idle"\n', '/tmp/dup.cfg')));
    expect(dup.error?.message).toMatch(/\/tmp\/dup\.cfg.*name.*already in use/);
    const kernel = settle(t.host, toolstack.create(guest('name = "k"\ntype = "pvh"\nkernel = "/nonexistent/vmlinuz"\n', '/tmp/k.cfg')));
    expect(kernel.error?.message).toMatch(/\/tmp\/k\.cfg.*kernel.*not found/);
    const disk = settle(t.host, toolstack.create(guest("name = \"d\"\ntype = \"pvh\"\nkernel = \"idle\"\ndisk = [ '/nonexistent/disk.img,raw,xvda,rw' ]\n", '/tmp/d.cfg')));
    expect(disk.error?.message).toMatch(/\/tmp\/d\.cfg.*disk\[0\].*does not exist/);
    expect(counts()).toEqual(before);
    // ...and a good guest still builds.
    const ok = settle(t.host, toolstack.create(guest(PVH)));
    expect(ok.state).toBe('done');
    settle(t.host, toolstack.destroy(ok.result!.domid));
  });

  it('charges the build to Dom0 and takes virtual time', () => {
    const dom0 = t.host.domains.lookup(0);
    const cpuBefore = dom0.vcpus[0]!.runstateInfo().time.running;
    const start = t.host.engine.now;
    const job = toolstack.create(guest(PVH));
    expect(job.state).toBe('queued');
    settle(t.host, job);
    expect(dom0.vcpus[0]!.runstateInfo().time.running).toBeGreaterThan(cpuBefore);
    expect(job.result!.startTime).toBeGreaterThan(start);
    settle(t.host, toolstack.destroy(job.result!.domid));
  });

  it('gives the same UUIDs for the same seed', () => {
    const a = settle(t.host, toolstack.create(guest(PVH))).result!;
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    settle(t.host, toolstack.destroy(a.domid));
  });
});

describe('lifecycle', () => {
  it('shutdown writes control/shutdown and settles when the guest acknowledges; on_poweroff=destroy then destroys it', () => {
    const rec = settle(t.host, toolstack.create(guest(PVH))).result!;
    const node = `/local/domain/${rec.domid}/control/shutdown`;
    const job = toolstack.shutdown(rec.domid, 'poweroff');
    t.host.engine.runFor(5e6);
    expect(xs.dom0.read(node)).toBe('poweroff');
    expect(job.state).toBe('running');
    // The guest's part: acknowledge, then SCHEDOP_shutdown(poweroff).
    xs.dom0.write(node, '');
    t.host.engine.runFor(1e6);
    expect(job.state).toBe('done');
    const events: string[] = [];
    toolstack.events.once('shutdown', (h) => events.push(`${h.name} ${h.reason} ${h.action}`));
    // What SCHEDOP_shutdown(poweroff) does (the generic kernel's tests make the hypercall itself).
    t.host.domains.shutdown(rec.domid, 'poweroff');
    t.host.engine.runFor(5e6);
    expect(events).toEqual(['small poweroff destroy']);
    expect(t.host.domains.get(rec.domid)).toBeUndefined();
    expect(xs.dom0.read(`/local/domain/${rec.domid}/name`)).toBeUndefined();
  });

  it('a request the guest never acknowledges times out with ETIMEDOUT', () => {
    const rec = settle(t.host, toolstack.create(guest(PVH))).result!;
    const job = settle(t.host, toolstack.shutdown(rec.domid, 'reboot'), 120e9);
    expect(job.error?.message).toMatch(/did not acknowledge the reboot request within 60 s/);
    settle(t.host, toolstack.destroy(rec.domid));
  });

  it('on_reboot=restart builds the domain again under the same name', () => {
    const rec = settle(t.host, toolstack.create(guest(PVH))).result!;
    let newDomid: number | undefined;
    toolstack.events.once('shutdown', (h) => (newDomid = h.newDomid));
    t.host.domains.shutdown(rec.domid, 'reboot');
    for (let i = 0; i < 100 && newDomid === undefined; i++) t.host.engine.runFor(1e6);
    expect(newDomid).toBeDefined();
    expect(newDomid).not.toBe(rec.domid);
    expect(toolstack.get(newDomid!)?.name).toBe('small');
    expect(toolstack.get(newDomid!)?.uuid).toBe(rec.uuid);
    expect(t.host.domains.get(rec.domid)).toBeUndefined();
    settle(t.host, toolstack.destroy(newDomid!));
  });

  it('mem-set, mem-max, vcpu-set and rename update the hypervisor and xenstore; bad values are refused', () => {
    const rec = settle(t.host, toolstack.create(guest(PVH.replace('memory = 32', 'memory = 32\nmaxmem = 64')))).result!;
    const home = `/local/domain/${rec.domid}`;
    expect(settle(t.host, toolstack.memSet(rec.domid, 48 * 1024)).error).toBeUndefined();
    expect(xs.dom0.read(`${home}/memory/target`)).toBe(String(48 * 1024));
    expect(settle(t.host, toolstack.memSet(rec.domid, 128 * 1024)).error?.message).toMatch(/memory_dynamic_max must be less than or equal to memory_static_max/);
    expect(settle(t.host, toolstack.memMax(rec.domid, 96 * 1024)).error).toBeUndefined();
    expect(xs.dom0.read(`${home}/memory/static-max`)).toBe(String(96 * 1024));
    expect(settle(t.host, toolstack.vcpuSet(rec.domid, 3)).error).toBeUndefined();
    expect(xs.dom0.read(`${home}/cpu/2/availability`)).toBe('online');
    expect(settle(t.host, toolstack.vcpuSet(rec.domid, 4)).error?.message).toMatch(/3 vCPUs at most/);
    expect(settle(t.host, toolstack.rename(rec.domid, 'renamed')).error).toBeUndefined();
    expect(t.host.domains.lookup(rec.domid).name).toBe('renamed');
    expect(xs.dom0.read(`${home}/name`)).toBe('renamed');
    expect(settle(t.host, toolstack.rename(rec.domid, 'Domain-0')).error?.message).toMatch(/already in use/);
    expect(settle(t.host, toolstack.destroy(0)).error?.message).toMatch(/domain 0/);
    expect(settle(t.host, toolstack.pause(9999)).error?.message).toMatch(/does not exist/);
    settle(t.host, toolstack.destroy(rec.domid));
  });
});
