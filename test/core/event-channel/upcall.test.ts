import { afterEach, describe, expect, it } from 'vitest';
import type { Host } from '../../../core/host/host.js';
import type { HvmIrqSink } from '../../../core/api/event-channel.js';
import { DOMID_SELF, HVM_PARAM } from '../../../core/public/index.js';
import { domId } from '../../../core/public/types.js';
import { RecordingHvmIrqSink, decodeCallbackVia } from '../../../core/event-channel/index.js';
import { vcpuOf } from '../../hypervisor/harness.js';
import { ackUpcall, allocUnbound, bindInterdomain, bindVcpu, bootHost, clearPending, evtchnApi, send } from './helpers.js';

let host: Host;
afterEach(async () => {
  await host?.shutdown();
});

const GSI = (gsi: number): bigint => BigInt(gsi);
const PCI_INTX = (bus: number, devfn: number, pin: number): bigint => (1n << 56n) | (BigInt(bus) << 16n) | (BigInt(devfn) << 8n) | BigInt(pin);
const VECTOR = (vector: number): bigint => (2n << 56n) | BigInt(vector);

/** dom1 (PVH, the sender) ↔ dom2 (HVM, `vcpus` vCPUs, the receiver); the bind's pending state cleared. */
async function hvmPair(vcpus = 1): Promise<{ lport: number; rport: number; sink: RecordingHvmIrqSink }> {
  host = await bootHost([{ name: 'sender' }, { name: 'hvm', type: 'hvm', vcpus }]);
  // These tests watch the requests themselves: the recording sink in place of the HVM platform's vLAPIC/vIOAPIC.
  evtchnApi(host).setHvmIrqSink(domId(2), null);
  const rport = allocUnbound(host, 2, DOMID_SELF, 1);
  const lport = bindInterdomain(host, 1, 2, rport);
  clearPending(host, 1, lport);
  ackUpcall(host, 1, 0);
  return { lport, rport, sink: evtchnApi(host).hvmIrqSink(domId(2)) as RecordingHvmIrqSink };
}

describe('decodeCallbackVia (HVM_PARAM_CALLBACK_IRQ)', () => {
  it('decodes the three types as Xen does', () => {
    expect(decodeCallbackVia(0n)).toEqual({ type: 'none' });
    expect(decodeCallbackVia(GSI(9))).toEqual({ type: 'gsi', gsi: 9 });
    expect(decodeCallbackVia(GSI(48))).toEqual({ type: 'none' });
    expect(decodeCallbackVia(GSI(0x100))).toEqual({ type: 'none' });
    expect(decodeCallbackVia(PCI_INTX(0, 0x18, 0) | (0n << 32n))).toEqual({ type: 'pci-intx', bus: 0, devfn: 0x18, pin: 0 });
    expect(decodeCallbackVia(PCI_INTX(2, 0x21, 3))).toEqual({ type: 'pci-intx', bus: 2, devfn: 0x21, pin: 3 });
    expect(decodeCallbackVia(VECTOR(0xf3))).toEqual({ type: 'vector', vector: 0xf3 });
    expect(decodeCallbackVia(3n << 56n)).toEqual({ type: 'none' });
  });
});

describe('HVM delivery', () => {
  it('type GSI: asserts the line while vCPU 0 has upcall_pending and drops it once the guest cleared it', async () => {
    const { lport, sink } = await hvmPair();
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    send(host, 1, lport);
    expect(sink.gsiLevels.get(5)).toBe(true);
    ackUpcall(host, 2, 0);
    evtchnApi(host).updateCallbackIrq(domId(2));
    expect(sink.gsiLevels.get(5)).toBe(false);
    expect(sink.calls).toEqual([
      { kind: 'gsi', gsi: 5, high: true },
      { kind: 'gsi', gsi: 5, high: false },
    ]);
  });

  it('type GSI: the upcall check of SCHEDOP_block/HLT also lets the line drop', async () => {
    const { lport, sink } = await hvmPair();
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    send(host, 1, lport);
    ackUpcall(host, 2, 0);
    expect(vcpuOf(host, 2).takePendingEvent()).toBe(false);
    expect(sink.gsiLevels.get(5)).toBe(false);
  });

  it('type GSI: only vCPU 0 drives the line', async () => {
    const { lport, rport, sink } = await hvmPair(2);
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    expect(bindVcpu(host, 2, rport, 1)).toBe(0);
    send(host, 1, lport);
    expect(sink.calls).toEqual([]);
  });

  it('type PCI INTx: drives the INTx pin of the given device', async () => {
    const { lport, sink } = await hvmPair();
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, PCI_INTX(0, 0x18, 0));
    send(host, 1, lport);
    expect(sink.pciIntxLevels.get('0:24:0')).toBe(true);
  });

  it('type vector: injects the vector into the notified vCPU and wakes it from HLT', async () => {
    const { lport, rport, sink } = await hvmPair(2);
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, VECTOR(0xf3));
    expect(bindVcpu(host, 2, rport, 1)).toBe(0);
    const woke: string[] = [];
    vcpuOf(host, 2, 1).setProgram(function* (v) {
      woke.push(String(yield v.halt()));
      yield v.block();
    });
    host.runFor(2e6);
    send(host, 1, lport);
    host.runFor(1e6);
    expect(sink.calls).toEqual([{ kind: 'vector', vcpu: 1, vector: 0xf3 }]);
    expect(woke).toEqual(['event']);
  });

  it('a per-vCPU upcall vector (HVMOP_set_evtchn_upcall_vector) takes precedence, and delivers what is already pending', async () => {
    const { lport, sink } = await hvmPair();
    const api = evtchnApi(host);
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, VECTOR(0xf3));
    send(host, 1, lport);
    api.setUpcallVector(domId(2), 0, 0xe0);
    expect(sink.calls).toEqual([
      { kind: 'vector', vcpu: 0, vector: 0xf3 },
      { kind: 'vector', vcpu: 0, vector: 0xe0 },
    ]);
    expect(() => api.setUpcallVector(domId(2), 0, 0x0f)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => api.setUpcallVector(domId(2), 3, 0xe0)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => api.setUpcallVector(domId(0), 0, 0xe0)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('without a callback, an HVM vCPU gets upcall_pending but no interrupt (as Xen)', async () => {
    const { lport, sink } = await hvmPair();
    send(host, 1, lport);
    expect(sink.calls).toEqual([]);
    expect(host.sharedInfoOf(2)!.bytes[0]).toBe(1);
  });

  it('moves an asserted line when the callback changes, and delivers pending events to a new vector callback', async () => {
    const { lport, sink } = await hvmPair();
    const params = host.hvmParamsOf(2)!;
    params.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    send(host, 1, lport);
    params.set(HVM_PARAM.CALLBACK_IRQ, GSI(7));
    expect([...sink.gsiLevels]).toEqual([
      [5, false],
      [7, true],
    ]);
    params.set(HVM_PARAM.CALLBACK_IRQ, VECTOR(0xf3));
    expect(sink.gsiLevels.get(7)).toBe(false);
    expect(sink.calls.at(-1)).toEqual({ kind: 'vector', vcpu: 0, vector: 0xf3 });
  });

  it('hands an asserted line over to a sink set later (the emulated interrupt controller), and back to the default on null', async () => {
    const { lport, sink } = await hvmPair();
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    send(host, 1, lport);
    const levels: string[] = [];
    const mine: HvmIrqSink = {
      setGsiLevel: (gsi, high) => levels.push(`gsi${gsi}=${high}`),
      setPciIntxLevel: () => levels.push('intx'),
      injectVector: () => levels.push('vector'),
    };
    const api = evtchnApi(host);
    api.setHvmIrqSink(domId(2), mine);
    expect(api.hvmIrqSink(domId(2))).toBe(mine);
    expect(sink.gsiLevels.get(5)).toBe(false);
    expect(levels).toEqual(['gsi5=true']);
    api.setHvmIrqSink(domId(2), null);
    expect(levels).toEqual(['gsi5=true', 'gsi5=false']);
    expect(sink.gsiLevels.get(5)).toBe(true);
  });

  it('drops the line when the domain dies', async () => {
    const { lport, sink } = await hvmPair();
    host.hvmParamsOf(2)!.set(HVM_PARAM.CALLBACK_IRQ, GSI(5));
    send(host, 1, lport);
    host.domains.destroy(2);
    expect(sink.gsiLevels.get(5)).toBe(false);
  });
});
