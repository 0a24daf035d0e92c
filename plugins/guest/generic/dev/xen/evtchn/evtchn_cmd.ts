/**
 * The `evtchn` shell command: guest user space on /dev/xen/evtchn. The shell holds one open of the
 * device; `evtchn read` sleeps until a bound port fires, prints the fired ports and writes them back.
 */
import { tsleep } from '../../../kern/kern_intr.js';
import type { ShellCommand } from '../../../shell/commands.js';
import type { Driver } from '../../../kern/bus.js';
import { EvtchnDev } from './evtchn_dev.js';

const USAGE = 'usage: evtchn unbound <domid> | bind <domid> <port> | virq <virq> | notify <port> | read [timeout-ms] | unbind <port> | reset | list';

function num(what: string, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new Error(`${what} must be a number (${USAGE})`);
  return Number(text);
}

export function evtchnCommand(dev: EvtchnDev): ShellCommand {
  return {
    name: 'evtchn',
    summary: 'bind, notify and wait on event channels through /dev/xen/evtchn',
    *run(args, io) {
      const [sub, a, b] = args;
      switch (sub) {
        case 'unbound':
          io.print(`port ${dev.bindUnboundPort(num('domid', a))}\n`);
          return 0;
        case 'bind':
          io.print(`port ${dev.bindInterdomain(num('domid', a), num('port', b))}\n`);
          return 0;
        case 'virq':
          io.print(`port ${dev.bindVirq(num('virq', a))}\n`);
          return 0;
        case 'notify':
          dev.notify(num('port', a));
          return 0;
        case 'unbind':
          dev.unbind(num('port', a));
          return 0;
        case 'reset':
          dev.reset();
          return 0;
        case 'list':
          io.print(`bound: ${dev.ports().join(' ') || '-'}\n`);
          return 0;
        case 'read': {
          const k = io.kernel;
          const timeout = a === undefined ? 0 : k.v.now + num('timeout-ms', a) * 1e6;
          if (!(yield* tsleep(k.bsp, () => dev.queued > 0 || dev.overflow, timeout))) {
            io.print('evtchn: timed out\n');
            return 1;
          }
          const fired = dev.read();
          dev.write(fired);
          io.print(`fired: ${fired.join(' ')}\n`);
          return 0;
        }
        default:
          io.print(`${USAGE}\n`);
          return 2;
      }
    },
  };
}

/** evtchn0: /dev/xen/evtchn, opened once by the shell. */
export const evtchnDriver: Driver = {
  name: 'evtchn',
  description: 'Xen event channel user-space device',
  *attach(k, dev) {
    k.commands.register(evtchnCommand(new EvtchnDev(k)));
    k.printf(`${dev.nameunit}: /dev/xen/evtchn`);
    yield* [];
  },
};
