import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { EventChannels } from '../../../core/api/event-channel.js';
import { DOMID_SELF, EVTCHNSTAT, VIRQ, XenErrno } from '../../../core/public/index.js';
import { domId, evtchnPort } from '../../../core/public/types.js';
import { TraceKind } from '../../../core/engine/trace.js';
import { allocUnbound, bindInterdomain, bindVirq, bootHost, evtchnApi, isPendingBit, status } from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

describe('the in-core EventChannels API', () => {
  it('is registered in the host container under Symbol.for("xenoserver:EventChannels")', async () => {
    host = await bootHost();
    expect(EventChannels).toBe(Symbol.for('xenoserver:EventChannels'));
    expect(host.container.isRegistered(EventChannels)).toBe(true);
  });

  it('builds a xenstore-style channel: allocUnbound in the guest for Dom0, Dom0 binds, notify goes both ways', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    const guestPort = api.allocUnbound(domId(1), domId(0));
    const dom0Port = api.bindInterdomain(domId(0), domId(1), guestPort);
    expect(api.status(domId(1), guestPort)).toEqual({ status: 'interdomain', vcpu: 0, remoteDom: 0, remotePort: dom0Port });
    api.notify(domId(0), dom0Port);
    expect(api.isPending(domId(1), guestPort)).toBe(true);
    api.notify(domId(1), guestPort);
    expect(api.isPending(domId(0), dom0Port)).toBe(true);
    expect(() => api.notify(domId(1), evtchnPort(900))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    api.close(domId(0), dom0Port);
    expect(api.status(domId(1), guestPort)).toEqual({ status: 'unbound', vcpu: 0, remoteDom: 0 });
    expect(api.portsInUse(domId(0))).toBe(0);
    expect(api.portsInUse(domId(1))).toBe(1);
  });

  it('calls every onEvent listener of a port until each is removed, and none once the port is closed', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    const guestPort = api.allocUnbound(domId(1), domId(0));
    const dom0Port = api.bindInterdomain(domId(0), domId(1), guestPort);
    const heard: string[] = [];
    const offA = api.onEvent(domId(0), dom0Port, () => heard.push('a'));
    api.notify(domId(1), guestPort);
    const offB = api.onEvent(domId(0), dom0Port, () => heard.push('b'));
    const offC = api.onEvent(domId(0), dom0Port, () => heard.push('c'));
    api.notify(domId(1), guestPort);
    offA();
    offA();
    api.notify(domId(1), guestPort);
    offC();
    api.notify(domId(1), guestPort);
    expect(heard).toEqual(['a', 'a', 'b', 'c', 'b', 'c', 'b']);
    api.onEvent(domId(0), dom0Port, () => heard.push('d'));
    api.close(domId(0), dom0Port);
    api.notify(domId(1), guestPort);
    offB();
    expect(heard).toHaveLength(7);
  });

  it('records every hypervisor-side send as TraceKind.EvtchnSend', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    const p = bindVirq(host, 1, VIRQ.TIMER, 0);
    const before = host.engine.trace.count(TraceKind.EvtchnSend);
    api.sendVirq(domId(1), 0, VIRQ.TIMER);
    const g = api.allocUnbound(domId(1), domId(0));
    api.notify(domId(0), api.bindInterdomain(domId(0), domId(1), g));
    expect(host.engine.trace.count(TraceKind.EvtchnSend)).toBe(before + 2);
    expect(isPendingBit(host, 1, p)).toBe(true);
  });

  it('setMaxPorts raises or lowers the limit (xl max_event_channels), capped by the 2-level ABI at port 4095', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    api.setMaxPorts(domId(1), 3);
    expect([1, 2, 3].map(() => allocUnbound(host, 1, DOMID_SELF, 0))).toEqual([1, 2, 3]);
    expect(allocUnbound(host, 1, DOMID_SELF, 0)).toBe(-XenErrno.ENOSPC);
    api.setMaxPorts(domId(1), 100000);
    for (let p = 4; p <= 4095; p++) allocUnbound(host, 1, DOMID_SELF, 0);
    expect(allocUnbound(host, 1, DOMID_SELF, 0)).toBe(-XenErrno.ENOSPC);
    expect(api.portsInUse(domId(1))).toBe(4095);
    // Lowering keeps the open ports usable.
    api.setMaxPorts(domId(1), 10);
    expect(status(host, 1, DOMID_SELF, 4000)).toMatchObject({ rc: 0, status: EVTCHNSTAT.unbound });
    expect(() => api.setMaxPorts(domId(1), -1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('Dom0 may use every port of the 2-level ABI (Xen gives it max_evtchn_port = -1)', async () => {
    host = await bootHost();
    for (let p = 1; p <= 4095; p++) if (allocUnbound(host, 0, DOMID_SELF, 1) !== p) throw new Error(`port ${p}`);
    expect(allocUnbound(host, 0, DOMID_SELF, 1)).toBe(-XenErrno.ENOSPC);
  });

  it('fails with ESRCH for a domain that does not exist', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    expect(() => api.portsInUse(domId(9))).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(() => api.allocUnbound(domId(9), domId(0))).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });
});

describe('domain lifecycle', () => {
  it('gives a domain created later its own table', async () => {
    host = await bootHost();
    const d = host.domains.create({ name: 'late', vcpus: 1 });
    expect(evtchnApi(host).portsInUse(d.domid)).toBe(0);
    expect(allocUnbound(host, 0, d.domid, 0)).toBe(1);
  });

  it('on destruction closes every port (peers back to unbound, as evtchn_destroy) and drops the state', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    const guestPort = api.allocUnbound(domId(1), domId(0));
    const dom0Port = api.bindInterdomain(domId(0), domId(1), guestPort);
    bindVirq(host, 1, VIRQ.TIMER, 0);
    host.domains.destroy(1);
    expect(api.status(domId(0), dom0Port)).toEqual({ status: 'unbound', vcpu: 0, remoteDom: 1 });
    expect(() => api.portsInUse(domId(1))).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(bindInterdomain(host, 2, 1, guestPort)).toBe(-XenErrno.ESRCH);
  });

  it('refuses new ports in a dying domain (EINVAL)', async () => {
    host = await bootHost();
    const api = evtchnApi(host);
    let during: unknown;
    host.domains.events.once('dying', () => {
      try {
        api.allocUnbound(domId(1), domId(0));
      } catch (error) {
        during = error;
      }
    });
    host.domains.destroy(1);
    expect(during).toMatchObject({ code: 'EINVAL' });
  });
});

describe('the debug dump', () => {
  it('lists every open port with its binding and its pending/masked flags', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    bindInterdomain(host, 1, 2, rport);
    bindVirq(host, 1, VIRQ.TIMER, 0);
    const dump = host.hypervisorSubsystems.find((s) => s.name === 'event-channel')!.dump!();
    expect(dump).toContain('dom1 (2-level, 2 port(s) open, max port 1023, callback none)');
    expect(dump).toContain('     1 interdomain → dom2:1 vcpu0 P');
    expect(dump).toContain('     2 virq 0 vcpu0');
    expect(dump).toContain('     1 interdomain → dom1:1 vcpu0');
  });
});
