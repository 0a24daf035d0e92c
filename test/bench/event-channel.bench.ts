/** Event-channel benchmarks: an interdomain send through the hypercall dispatcher, and the in-core notify path. */
import 'reflect-metadata';
import { bootTestHost, vcpuOf } from '../hypervisor/harness.js';
import { EventChannels } from '../../core/api/event-channel.js';
import { EVTCHNOP, Hypercall, SharedInfo, VcpuInfo } from '../../core/public/index.js';
import { domId } from '../../core/public/types.js';
import type { Host } from '../../core/host/host.js';
import { type Benchmark, opsPerSecond } from './harness.js';

const OP = 0x10000;

/** Two PV guests joined by an interdomain channel: dom1's `lport` ↔ dom2's `rport`. */
async function setup(): Promise<{ host: Host; lport: number; rport: number }> {
  const { host } = await bootTestHost({ cpus: 2, guests: [{ name: 'sender', type: 'pv' }, { name: 'receiver', type: 'pv' }] });
  const api = host.container.resolve(EventChannels);
  const rport = api.allocUnbound(domId(2), domId(1));
  const lport = api.bindInterdomain(domId(1), domId(2), rport);
  return { host, lport, rport };
}

/**
 * Sends per second on `lport` through the dispatcher (op struct in the sender's memory). Between sends
 * the receiver's pending bit, pending_sel and upcall_pending are cleared, as its upcall handler would, so
 * every send takes the whole path: pending bit, selector, upcall_pending, vCPU kick, trace record.
 */
async function dispatchedSendsPerSecond(): Promise<number> {
  const { host, lport, rport } = await setup();
  const sender = vcpuOf(host, 1);
  sender.guest.writeU32(OP, lport);
  const page = host.sharedInfoOf(2)!.bytes;
  const pendingByte = SharedInfo.evtchnPending + (rport >> 3);
  const pendingBit = 1 << (rport & 7);
  const args = [EVTCHNOP.send, OP, 0, 0, 0];
  const nr = Hypercall.event_channel_op;
  let failures = 0;
  const ops = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) {
      if (host.dispatcher.dispatch(sender, nr, args) !== 0) failures++;
      if ((page[pendingByte]! & pendingBit) === 0) failures++;
      page[pendingByte] = 0;
      page[VcpuInfo.evtchnUpcallPending] = 0;
      page[VcpuInfo.evtchnPendingSel] = 0;
    }
  });
  await host.shutdown();
  if (failures > 0) throw new Error(`${failures} sends did not set the pending bit`);
  return ops;
}

/** `EventChannels.notify` from Dom0-side code on the sender's port, same clearing. */
async function notifiesPerSecond(): Promise<number> {
  const { host, lport, rport } = await setup();
  const api = host.container.resolve(EventChannels);
  const page = host.sharedInfoOf(2)!.bytes;
  const pendingByte = SharedInfo.evtchnPending + (rport >> 3);
  const port = lport as Parameters<typeof api.notify>[1];
  const from = domId(1);
  const ops = opsPerSecond((n) => {
    for (let i = 0; i < n; i++) {
      api.notify(from, port);
      page[pendingByte] = 0;
      page[VcpuInfo.evtchnUpcallPending] = 0;
      page[VcpuInfo.evtchnPendingSel] = 0;
    }
  });
  await host.shutdown();
  return ops;
}

export const benchmarks: Benchmark[] = [
  {
    group: 'event',
    name: 'event channel send → pending bit + upcall (dispatcher)',
    unit: 'M/s',
    target: { min: 5 },
    run: async () => {
      await dispatchedSendsPerSecond();
      return { value: Math.max(await dispatchedSendsPerSecond(), await dispatchedSendsPerSecond()) / 1e6, detail: 'PV→PV interdomain EVTCHNOP_send, op struct in guest memory; best of 2 after a warm-up' };
    },
  },
  {
    group: 'event',
    name: 'in-core notify → pending bit + upcall',
    unit: 'M/s',
    run: async () => {
      await notifiesPerSecond();
      return { value: Math.max(await notifiesPerSecond(), await notifiesPerSecond()) / 1e6, detail: 'EventChannels.notify on an interdomain port; best of 2 after a warm-up' };
    },
  },
];
