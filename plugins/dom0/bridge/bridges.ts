/** The host's bridges by name: what the bridge plugin provides as {@link Bridges}. */
import { isAbsolute, resolve } from 'node:path';
import { GuestError, PluginError, type Bridges, type Logger } from '../../../core/api/index.js';
import { LearningBridge } from './bridge.js';
import type { BridgeOptions } from './options.js';
import { PcapWriter } from './pcap.js';

export interface BridgeSetDeps {
  options: BridgeOptions;
  /** Virtual time, ns. */
  now: () => number;
  /** Relative pcap paths are under it. */
  runDir: string;
  log: Logger;
}

export class BridgeSet implements Bridges {
  private readonly bridges = new Map<string, LearningBridge>();

  /** Makes every bridge of the options and opens their pcap files; a PluginError names a duplicate or a file it cannot create. */
  constructor(deps: BridgeSetDeps) {
    const { options, now, runDir, log } = deps;
    try {
      for (const [i, spec] of options.bridges.entries()) {
        if (this.bridges.has(spec.name)) throw new PluginError('bridge', `bridges[${i}]: bridge ${spec.name} is declared twice`);
        let pcap: PcapWriter | undefined;
        if (spec.pcap !== undefined) {
          const path = isAbsolute(spec.pcap) ? spec.pcap : resolve(runDir, spec.pcap);
          try {
            pcap = new PcapWriter(path);
          } catch (cause) {
            throw new PluginError('bridge', `bridges[${i}] (${spec.name}): cannot create pcap file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
          }
        }
        this.bridges.set(spec.name, new LearningBridge({ name: spec.name, mtu: spec.mtu, ageingNs: options.ageingMs * 1e6, now, log, pcap }));
      }
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  get(name: string): LearningBridge {
    const bridge = this.bridges.get(name);
    if (bridge === undefined) throw new GuestError('ENOENT', `bridge ${name} does not exist (bridges: ${[...this.bridges.keys()].join(', ')})`);
    return bridge;
  }

  list(): LearningBridge[] {
    return [...this.bridges.values()];
  }

  /** Writes every bridge's buffered pcap records out. */
  flush(): void {
    for (const b of this.bridges.values()) b.flush();
  }

  /** Flushes and closes the pcap files. */
  dispose(): void {
    for (const b of this.bridges.values()) b.close();
  }
}
