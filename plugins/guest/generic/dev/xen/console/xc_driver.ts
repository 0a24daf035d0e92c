/** xc0 on xenpv0: attaches the console ring, replays the boot log into it, hands input to the shell. */
import type { Driver } from '../../../kern/bus.js';
import type { RingLocation } from '../../../boot/init-ops.js';
import { XenConsole } from './xc.js';

/** How long output may wait for a backend that does not notify before the idle loop retries. */
const RETRY_NS = 10e6;

export function xcDriver(ring: RingLocation): Driver {
  return {
    name: 'xc',
    description: 'Xen Console',
    *attach(k, dev) {
      const xc = new XenConsole(k.v, k.events, ring);
      k.console = xc;
      k.msgbuf.attachConsole((text) => xc.write(text));
      k.printf(`${dev.nameunit}: ring at frame 0x${ring.frame.toString(16)}, event channel ${ring.port}`);
      // Output the ring had no room for is tried again RETRY_NS after the last try (or at once, when queued since).
      let retryAt = 0;
      const intr = k.bindIntr({
        name: dev.nameunit,
        port: ring.port,
        *handle() {
          xc.flush();
          retryAt = xc.backlog > 0 ? k.v.now + RETRY_NS : 0;
          due();
          if (k.shell === undefined) return false;
          const input = xc.read();
          if (input.length === 0) return false;
          yield* k.shell.input(input);
          return true;
        },
      });
      const due = (): void => {
        intr.due = xc.backlog > 0 ? retryAt || 1 : 0;
      };
      xc.onBacklog = due;
      due();
    },
  };
}
