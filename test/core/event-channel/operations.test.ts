import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import { DOMID_SELF, EVTCHNSTAT, VIRQ, XenErrno } from '../../../core/public/index.js';
import { domId, evtchnPort } from '../../../core/public/types.js';
import { TraceKind } from '../../../core/engine/trace.js';
import {
  allocUnbound,
  bindInterdomain,
  bindIpi,
  bindPirq,
  bindVcpu,
  bindVirq,
  bootHost,
  close,
  evtchnApi,
  isPendingBit,
  reset,
  send,
  status,
  unmask,
  setMask,
  clearPending,
} from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const EINVAL = -XenErrno.EINVAL;

describe('EVTCHNOP_alloc_unbound', () => {
  it('hands out the lowest free port from 1 (port 0 is reserved) and records whom it is offered to', async () => {
    host = await bootHost();
    expect(allocUnbound(host, 1, DOMID_SELF, 2)).toBe(1);
    expect(allocUnbound(host, 1, 1, DOMID_SELF)).toBe(2);
    expect(status(host, 1, DOMID_SELF, 1)).toMatchObject({ rc: 0, status: EVTCHNSTAT.unbound, vcpu: 0, dom: 2 });
    // DOMID_SELF as remote means the caller.
    expect(status(host, 1, DOMID_SELF, 2)).toMatchObject({ status: EVTCHNSTAT.unbound, dom: 1 });
    expect(status(host, 1, DOMID_SELF, 0)).toMatchObject({ rc: 0, status: EVTCHNSTAT.closed });
    expect(close(host, 1, 1)).toBe(0);
    expect(allocUnbound(host, 1, DOMID_SELF, 2)).toBe(1);
  });

  it('lets the privileged Dom0 allocate in another domain (the domain builder), and refuses an unknown domain with ESRCH', async () => {
    host = await bootHost();
    expect(allocUnbound(host, 0, 1, 0)).toBe(1);
    expect(status(host, 1, DOMID_SELF, 1)).toMatchObject({ status: EVTCHNSTAT.unbound, dom: 0 });
    expect(allocUnbound(host, 0, 42, 0)).toBe(-XenErrno.ESRCH);
  });

  it('stops at the per-domain maximum with ENOSPC (default 1023 ports for a domU)', async () => {
    host = await bootHost();
    for (let i = 1; i <= 1023; i++) expect(allocUnbound(host, 1, DOMID_SELF, 0)).toBe(i);
    expect(allocUnbound(host, 1, DOMID_SELF, 0)).toBe(-XenErrno.ENOSPC);
    expect(evtchnApi(host).portsInUse(domId(1))).toBe(1023);
  });
});

describe('EVTCHNOP_bind_interdomain', () => {
  it('connects both ends, and sets the new local port pending', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    const lport = bindInterdomain(host, 1, 2, rport);
    expect(lport).toBe(1);
    expect(status(host, 1, DOMID_SELF, lport)).toMatchObject({ status: EVTCHNSTAT.interdomain, dom: 2, u20: rport });
    expect(status(host, 2, DOMID_SELF, rport)).toMatchObject({ status: EVTCHNSTAT.interdomain, dom: 1, u20: lport });
    expect(isPendingBit(host, 1, lport)).toBe(true);
    expect(isPendingBit(host, 2, rport)).toBe(false);
  });

  it('refuses a remote port that is not unbound for the caller with EINVAL', async () => {
    host = await bootHost([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const forC = allocUnbound(host, 2, DOMID_SELF, 3);
    expect(bindInterdomain(host, 1, 2, forC)).toBe(EINVAL);
    expect(bindInterdomain(host, 1, 2, 77)).toBe(EINVAL);
    expect(bindInterdomain(host, 1, 2, 99999)).toBe(EINVAL);
    expect(bindInterdomain(host, 1, 42, 1)).toBe(-XenErrno.ESRCH);
    // Once bound, the port is no longer offered.
    expect(bindInterdomain(host, 3, 2, forC)).toBeGreaterThan(0);
    expect(bindInterdomain(host, 3, 2, forC)).toBe(EINVAL);
  });

  it('works as a loopback channel within one domain (DOMID_SELF)', async () => {
    host = await bootHost();
    const a = allocUnbound(host, 1, DOMID_SELF, DOMID_SELF);
    const b = bindInterdomain(host, 1, DOMID_SELF, a);
    clearPending(host, 1, b);
    expect(send(host, 1, b)).toBe(0);
    expect(isPendingBit(host, 1, a)).toBe(true);
  });
});

describe('EVTCHNOP_send', () => {
  it('raises the peer of an interdomain channel, and records a TraceKind.EvtchnSend', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    const lport = bindInterdomain(host, 1, 2, rport);
    const sends: number[][] = [];
    host.engine.trace.subscribe((r) => {
      if (r.kind === TraceKind.EvtchnSend) sends.push([r.domid, r.vcpu, r.a, r.b, r.c]);
    });
    expect(send(host, 1, lport)).toBe(0);
    expect(isPendingBit(host, 2, rport)).toBe(true);
    expect(send(host, 2, rport)).toBe(0);
    expect(sends).toEqual([
      [1, 0, lport, 2, rport],
      [2, 0, rport, 1, lport],
    ]);
  });

  it('drops a send on an unbound port silently; refuses a closed, reserved, VIRQ or out-of-range port with EINVAL', async () => {
    host = await bootHost();
    const unbound = allocUnbound(host, 1, DOMID_SELF, 2);
    expect(send(host, 1, unbound)).toBe(0);
    expect(isPendingBit(host, 1, unbound)).toBe(false);
    const virq = bindVirq(host, 1, VIRQ.TIMER, 0);
    expect(send(host, 1, virq)).toBe(EINVAL);
    expect(send(host, 1, 0)).toBe(EINVAL);
    expect(send(host, 1, 500)).toBe(EINVAL);
    expect(send(host, 1, 4096)).toBe(EINVAL);
    expect(send(host, 1, 0xffffffff)).toBe(EINVAL);
  });
});

describe('EVTCHNOP_close', () => {
  it('returns the interdomain peer to unbound (offered back to the closer) and clears the closed port pending bit', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    const lport = bindInterdomain(host, 1, 2, rport);
    expect(close(host, 1, lport)).toBe(0);
    expect(isPendingBit(host, 1, lport)).toBe(false);
    expect(status(host, 1, DOMID_SELF, lport)).toMatchObject({ status: EVTCHNSTAT.closed });
    expect(status(host, 2, DOMID_SELF, rport)).toMatchObject({ status: EVTCHNSTAT.unbound, dom: 1 });
    // The peer can be bound again.
    expect(bindInterdomain(host, 1, 2, rport)).toBe(lport);
    expect(close(host, 1, lport)).toBe(0);
    expect(close(host, 1, lport)).toBe(EINVAL);
    expect(close(host, 1, 0)).toBe(EINVAL);
  });

  it('unbinds a VIRQ so that it can be bound again', async () => {
    host = await bootHost();
    const p = bindVirq(host, 1, VIRQ.DEBUG, 0);
    expect(bindVirq(host, 1, VIRQ.DEBUG, 0)).toBe(-XenErrno.EEXIST);
    expect(close(host, 1, p)).toBe(0);
    expect(bindVirq(host, 1, VIRQ.DEBUG, 0)).toBe(p);
  });
});

describe('EVTCHNOP_bind_virq', () => {
  it('binds per-vCPU VIRQs on any vCPU and global ones on vCPU 0 only', async () => {
    host = await bootHost([{ name: 'a', vcpus: 2 }]);
    const t0 = bindVirq(host, 1, VIRQ.TIMER, 0);
    const t1 = bindVirq(host, 1, VIRQ.TIMER, 1);
    expect([t0, t1]).toEqual([1, 2]);
    expect(status(host, 1, DOMID_SELF, t1)).toMatchObject({ status: EVTCHNSTAT.virq, vcpu: 1, u16: VIRQ.TIMER });
    expect(bindVirq(host, 1, VIRQ.XENPMU, 1)).toBe(3);
    expect(bindVirq(host, 1, VIRQ.DOM_EXC, 1)).toBe(EINVAL);
    expect(bindVirq(host, 1, VIRQ.ARGO, 1)).toBe(EINVAL);
    expect(bindVirq(host, 1, VIRQ.DOM_EXC, 0)).toBe(4);
    expect(bindVirq(host, 1, VIRQ.TIMER, 2)).toBe(-XenErrno.ENOENT);
    expect(bindVirq(host, 1, 24, 0)).toBe(EINVAL);
    expect(bindVirq(host, 1, 0xffffffff, 0)).toBe(EINVAL);
  });

  it('delivers sendVirq to the bound vCPU and sendGlobalVirq to the notify vCPU of the global binding', async () => {
    host = await bootHost([{ name: 'a', vcpus: 2 }]);
    const api = evtchnApi(host);
    expect(api.sendVirq(domId(1), 1, VIRQ.TIMER)).toBe(false);
    const t1 = bindVirq(host, 1, VIRQ.TIMER, 1);
    expect(api.sendVirq(domId(1), 1, VIRQ.TIMER)).toBe(true);
    expect(isPendingBit(host, 1, t1)).toBe(true);
    const g = bindVirq(host, 1, VIRQ.CON_RING, 0);
    expect(bindVcpu(host, 1, g, 1)).toBe(0);
    expect(api.sendGlobalVirq(domId(1), VIRQ.CON_RING)).toBe(true);
    expect(api.status(domId(1), evtchnPort(g))).toEqual({ status: 'virq', vcpu: 1, virq: VIRQ.CON_RING });
  });
});

describe('EVTCHNOP_bind_ipi and EVTCHNOP_bind_vcpu', () => {
  it('an IPI port raises itself on its vCPU', async () => {
    host = await bootHost([{ name: 'a', vcpus: 2 }]);
    const p = bindIpi(host, 1, 1);
    expect(status(host, 1, DOMID_SELF, p)).toMatchObject({ status: EVTCHNSTAT.ipi, vcpu: 1 });
    expect(send(host, 1, p)).toBe(0);
    expect(isPendingBit(host, 1, p)).toBe(true);
    expect(bindIpi(host, 1, 2)).toBe(-XenErrno.ENOENT);
  });

  it('moves unbound, interdomain and global-VIRQ ports; refuses IPI and per-vCPU VIRQ ports with EINVAL', async () => {
    host = await bootHost([{ name: 'a', vcpus: 2 }, { name: 'b' }]);
    const unbound = allocUnbound(host, 1, DOMID_SELF, 2);
    expect(bindVcpu(host, 1, unbound, 1)).toBe(0);
    expect(status(host, 1, DOMID_SELF, unbound).vcpu).toBe(1);
    const ipi = bindIpi(host, 1, 0);
    expect(bindVcpu(host, 1, ipi, 1)).toBe(EINVAL);
    const timer = bindVirq(host, 1, VIRQ.TIMER, 0);
    expect(bindVcpu(host, 1, timer, 1)).toBe(EINVAL);
    expect(bindVcpu(host, 1, unbound, 5)).toBe(-XenErrno.ENOENT);
    expect(bindVcpu(host, 1, 999, 0)).toBe(EINVAL);
    // The vCPU chosen for an unbound port is kept when the peer binds.
    const lport = bindInterdomain(host, 2, 1, unbound);
    expect(send(host, 2, lport)).toBe(0);
    expect(status(host, 1, DOMID_SELF, unbound)).toMatchObject({ status: EVTCHNSTAT.interdomain, vcpu: 1 });
  });
});

describe('EVTCHNOP_bind_pirq', () => {
  it('binds only PIRQs granted to the domain (EPERM otherwise), once (EEXIST)', async () => {
    host = await bootHost();
    expect(bindPirq(host, 1, 5)).toBe(-XenErrno.EPERM);
    evtchnApi(host).grantPirq(domId(1), 5);
    const p = bindPirq(host, 1, 5);
    expect(p).toBe(1);
    expect(bindPirq(host, 1, 5)).toBe(-XenErrno.EEXIST);
    expect(status(host, 1, DOMID_SELF, p)).toMatchObject({ status: EVTCHNSTAT.pirq, u16: 5 });
    expect(evtchnApi(host).sendPirq(domId(1), 5)).toBe(true);
    expect(isPendingBit(host, 1, p)).toBe(true);
    expect(bindPirq(host, 1, 100000)).toBe(EINVAL);
  });
});

describe('EVTCHNOP_unmask', () => {
  it('clears the mask bit of any valid port and refuses an out-of-range one', async () => {
    host = await bootHost();
    setMask(host, 1, 7, true);
    expect(unmask(host, 1, 7)).toBe(0);
    expect(unmask(host, 1, 4000)).toBe(EINVAL);
  });
});

describe('EVTCHNOP_reset', () => {
  it('closes every port of the caller, returning interdomain peers to unbound', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    bindInterdomain(host, 1, 2, rport);
    bindVirq(host, 1, VIRQ.TIMER, 0);
    expect(reset(host, 1, DOMID_SELF)).toBe(0);
    expect(evtchnApi(host).portsInUse(domId(1))).toBe(0);
    expect(status(host, 2, DOMID_SELF, rport)).toMatchObject({ status: EVTCHNSTAT.unbound, dom: 1 });
    expect(bindVirq(host, 1, VIRQ.TIMER, 0)).toBe(1);
  });

  it('lets Dom0 reset another domain only while it is paused', async () => {
    host = await bootHost();
    allocUnbound(host, 1, DOMID_SELF, 0);
    expect(reset(host, 0, 1)).toBe(EINVAL);
    host.domains.pause(1);
    expect(reset(host, 0, 1)).toBe(0);
    expect(evtchnApi(host).portsInUse(domId(1))).toBe(0);
  });
});

describe('commands outside the 2-level ABI', () => {
  it('answers unknown commands with ENOSYS, and a 2-level domain: set_priority ENOSYS, expand_array EOPNOTSUPP', async () => {
    host = await bootHost();
    const { evtchnOp } = await import('./helpers.js');
    for (const cmd of [14, 99, -1]) expect(evtchnOp(host, 1, cmd, new Uint8Array(24)).rc).toBe(-XenErrno.ENOSYS);
    expect(evtchnOp(host, 1, 13, new Uint8Array(8)).rc).toBe(-XenErrno.ENOSYS);
    expect(evtchnOp(host, 1, 12, new Uint8Array(8)).rc).toBe(-XenErrno.EOPNOTSUPP);
  });
});
