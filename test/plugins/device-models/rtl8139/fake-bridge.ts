/**
 * Dom0 bridges for the emulated NIC's tests, standing in for the bridge plugin behind the Bridges
 * contract: every frame a port sends is recorded, and `inject` hands a frame to a port as the bridge
 * would when it forwards one.
 */
import { GuestError, type Bridge, type BridgePort, type Bridges, type BridgeStats, type NetPort } from '../../../../core/api/index.js';

export class FakeBridge implements Bridge {
  readonly plugged = new Map<string, NetPort>();
  /** Frames sent into the bridge, with the port that sent them. */
  readonly sent: { port: string; frame: Uint8Array }[] = [];
  readonly stats: BridgeStats = { received: 0, delivered: 0, dropped: 0, malformed: 0 };
  readonly pcapPath = undefined;
  /** When set, frames sent in are forwarded to every other port (a hub, enough for two NICs). */
  forward = false;

  constructor(readonly name: string) {}

  attach(port: NetPort): BridgePort {
    if (this.plugged.has(port.name)) throw new GuestError('EEXIST', `${this.name}: a port named ${port.name} is plugged in already`);
    this.plugged.set(port.name, port);
    const bridge = this;
    return {
      bridge,
      send(frame) {
        bridge.sent.push({ port: port.name, frame: frame.slice() });
        if (bridge.forward) for (const [name, p] of bridge.plugged) if (name !== port.name) p.deliver(frame);
      },
      detach() {
        if (bridge.plugged.get(port.name) === port) bridge.plugged.delete(port.name);
      },
    };
  }

  /** Hands `frame` to port `name`; what its `deliver` answered. */
  inject(name: string, frame: Uint8Array): boolean {
    const port = this.plugged.get(name);
    if (port === undefined) throw new Error(`${this.name}: no port ${name}`);
    return port.deliver(frame);
  }

  ports(): string[] {
    return [...this.plugged.keys()];
  }

  macs(): ReadonlyMap<string, string> {
    return new Map();
  }
}

/** The host's bridges: `xenbr0` unless told otherwise. */
export class FakeBridges implements Bridges {
  readonly bridges: Map<string, FakeBridge>;

  constructor(names: string[] = ['xenbr0']) {
    this.bridges = new Map(names.map((n) => [n, new FakeBridge(n)]));
  }

  get(name: string): FakeBridge {
    const b = this.bridges.get(name);
    if (b === undefined) throw new GuestError('ENOENT', `no bridge named ${name}`);
    return b;
  }

  list(): FakeBridge[] {
    return [...this.bridges.values()];
  }
}
