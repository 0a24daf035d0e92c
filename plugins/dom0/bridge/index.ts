/** The bridge plugin's manifest: Dom0's software bridges (learning switches with optional pcap capture). */
import { Bridges, Engine, RunDir, definePlugin } from '../../../core/api/index.js';
import { BridgeSet } from './bridges.js';
import { BridgeOptions } from './options.js';

export { LearningBridge, MAX_LEARNT_MACS, type LearningBridgeOptions } from './bridge.js';
export { BridgeSet, type BridgeSetDeps } from './bridges.js';
export { BridgeOptions } from './options.js';
export { PcapWriter, PCAP_FLUSH_BYTES } from './pcap.js';

/** The `bridge` plugin: provides {@link Bridges} (and the BRIDGES feature) from register on, so backends can resolve it when they start. */
export default definePlugin({
  name: 'bridge',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'Software bridges in Dom0 (learning Ethernet switches) that vifs and emulated NICs plug into; each can write a pcap file',
  provides: ['BRIDGES'],
  configSchema: BridgeOptions,
  register(ctx) {
    const engine = ctx.resolve(Engine);
    const set = new BridgeSet({ options: ctx.options, now: () => engine.now, runDir: ctx.resolve(RunDir), log: ctx.log });
    ctx.provide(Bridges, set);
    const names = set.list().map((b) => (b.pcapPath ? `${b.name} (pcap ${b.pcapPath})` : b.name));
    ctx.log.info(`bridges: ${names.join(', ')}`);
    return {
      dispose: () => set.dispose(),
    };
  },
});
