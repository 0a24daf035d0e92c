/** Fixtures for the bridge's tests: a recording port, frames by MAC, a logger that keeps its lines. */
import { MemoryLogSink, createLogger, type Logger, type NetPort } from '../../../../core/api/index.js';
import { LearningBridge } from '../../../../plugins/dom0/bridge/bridge.js';
import type { PcapWriter } from '../../../../plugins/dom0/bridge/pcap.js';

/** A port that records what it is given (copies), or refuses / throws when told to. */
export class RecordingPort implements NetPort {
  readonly got: Uint8Array[] = [];
  mode: 'take' | 'refuse' | 'throw' = 'take';
  onDeliver: ((frame: Uint8Array) => void) | undefined;

  constructor(readonly name: string) {}

  deliver(frame: Uint8Array): boolean {
    if (this.mode === 'throw') throw new Error('ring is gone');
    if (this.mode === 'refuse') return false;
    this.got.push(frame.slice());
    this.onDeliver?.(frame);
    return true;
  }

  /** How many frames came, then forget them. */
  take(): number {
    return this.got.splice(0).length;
  }
}

/** `02:00:00:00:00:0n`. */
export const mac = (n: number): Uint8Array => Uint8Array.of(2, 0, 0, 0, 0, n);
export const BCAST = Uint8Array.of(255, 255, 255, 255, 255, 255);

/** An Ethernet frame `src` → `dst` with `payload` bytes of zeros (IPv4 EtherType). */
export function frame(dst: Uint8Array, src: Uint8Array, payload = 46): Uint8Array {
  const f = new Uint8Array(14 + payload);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  return f;
}

/** A bridge on a hand-moved clock, with its log lines. */
export function makeBridge(options: { ageingNs?: number; mtu?: number; pcap?: PcapWriter } = {}): { bridge: LearningBridge; clock: { t: number }; logs: MemoryLogSink; log: Logger } {
  const clock = { t: 5_000_000_000 };
  const logs = new MemoryLogSink();
  const log = createLogger('plugin bridge', logs.sink, () => clock.t, 'debug');
  const bridge = new LearningBridge({ name: 'xenbr0', mtu: options.mtu ?? 1500, ageingNs: options.ageingNs ?? 300e9, now: () => clock.t, log, pcap: options.pcap });
  return { bridge, clock, logs, log };
}
