/** Guests' network stacks plugged into a real bridge: each gets a NIC whose frames go through the switch. */
import type { BridgePort, NetPort } from '../../../../core/api/index.js';
import type { LearningBridge } from '../../../../plugins/dom0/bridge/bridge.js';
import { emptyIfnetStats, type IfnetDriver } from '../../../../plugins/guest/generic/net/if.js';
import { NetStack } from '../../../../plugins/guest/generic/net/stack.js';

/** A guest NIC on a bridge port: transmit sends into the bridge; what the bridge delivers goes (copied) to the stack. */
class BridgedNic implements IfnetDriver {
  readonly stats = emptyIfnetStats();
  readonly mtu = 1500;
  readonly up = true;
  readonly plug: BridgePort;

  constructor(
    readonly name: string,
    readonly mac: Uint8Array,
    portName: string,
    bridge: LearningBridge,
    stack: NetStack,
  ) {
    const port: NetPort = {
      name: portName,
      deliver: (frame) => {
        stack.input(name, frame.slice());
        return true;
      },
    };
    this.plug = bridge.attach(port);
  }

  transmit(frame: Uint8Array): boolean {
    this.stats.opackets++;
    this.plug.send(frame);
    return true;
  }
}

/** A guest with one interface `xn0` plugged into `bridge` as port `vif<domid>.0`. */
export function guestOnBridge(bridge: LearningBridge, now: () => number, domid: number, inet: string, inet6: string): NetStack {
  const stack = new NetStack({ now, hostname: `guest${domid}` });
  stack.attach(new BridgedNic('xn0', Uint8Array.of(0x00, 0x16, 0x3e, 0, 0, domid), `vif${domid}.0`, bridge, stack));
  stack.configure('xn0', { inet, inet6 });
  return stack;
}
