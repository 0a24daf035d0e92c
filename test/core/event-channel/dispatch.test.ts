import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import {
  DOMID_SELF,
  EVTCHNOP,
  EVTCHNSTAT,
  EvtchnAllocUnbound,
  EvtchnBindInterdomain,
  EvtchnBindIpi,
  EvtchnBindPirq,
  EvtchnBindVcpu,
  EvtchnBindVirq,
  EvtchnStatus,
  XenErrno,
} from '../../../core/public/index.js';
import { domId } from '../../../core/public/types.js';
import { allocUnbound, bindInterdomain, bootHost, evtchnApi, evtchnOp, status } from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

describe('op-struct layouts (event_channel.h, x86-64)', () => {
  it('match the header', () => {
    expect(EvtchnAllocUnbound).toEqual({ size: 8, dom: 0, remoteDom: 2, port: 4 });
    expect(EvtchnBindInterdomain).toEqual({ size: 12, remoteDom: 0, remotePort: 4, localPort: 8 });
    expect(EvtchnBindVirq).toEqual({ size: 12, virq: 0, vcpu: 4, port: 8 });
    expect(EvtchnBindPirq).toEqual({ size: 12, pirq: 0, flags: 4, port: 8 });
    expect(EvtchnBindIpi).toEqual({ size: 8, vcpu: 0, port: 4 });
    expect(EvtchnBindVcpu).toEqual({ size: 8, port: 0, vcpu: 4 });
    expect(EvtchnStatus).toMatchObject({ size: 24, dom: 0, port: 4, status: 8, vcpu: 12, unboundDom: 16, interdomainDom: 16, interdomainPort: 20 });
    expect(EVTCHNSTAT).toEqual({ closed: 0, unbound: 1, interdomain: 2, pirq: 3, virq: 4, ipi: 5 });
  });
});

describe('decoding and encoding in the caller memory', () => {
  it('writes only the OUT field of alloc_unbound and leaves the IN fields and padding as the guest wrote them', async () => {
    host = await bootHost();
    const bytes = new Uint8Array([0xf0, 0x7f, 0x02, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22]);
    const { rc, out } = evtchnOp(host, 1, EVTCHNOP.alloc_unbound, bytes);
    expect(rc).toBe(0);
    expect([...new Uint8Array(out.buffer, out.byteOffset, 10)]).toEqual([0xf0, 0x7f, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x11, 0x22]);
  });

  it('encodes EVTCHNOP_status: status, vcpu and the union member (interdomain dom u16 @16, port u32 @20)', async () => {
    host = await bootHost();
    const rport = allocUnbound(host, 2, DOMID_SELF, 1);
    for (let i = 0; i < 4; i++) allocUnbound(host, 1, DOMID_SELF, 0);
    const lport = bindInterdomain(host, 1, 2, rport);
    const s = status(host, 1, DOMID_SELF, lport);
    expect(s).toEqual({ rc: 0, status: EVTCHNSTAT.interdomain, vcpu: 0, dom: 2, u16: 2, u20: rport });
    expect(status(host, 0, 2, rport)).toMatchObject({ rc: 0, status: EVTCHNSTAT.interdomain, dom: 1, u20: lport });
  });

  it('fails with EFAULT and no effect when the op struct is not all readable', async () => {
    host = await bootHost();
    const end = 16 * 2 ** 20;
    // alloc_unbound's 8 bytes straddle the end of the guest's memory: the port would be taken if it read field by field.
    const { rc } = evtchnOp(host, 1, EVTCHNOP.alloc_unbound, new Uint8Array(4), 0, end - 4);
    expect(rc).toBe(-XenErrno.EFAULT);
    expect(evtchnApi(host).portsInUse(domId(1))).toBe(0);
    expect(evtchnOp(host, 1, EVTCHNOP.send, new Uint8Array(0), 0, end).rc).toBe(-XenErrno.EFAULT);
  });
});
