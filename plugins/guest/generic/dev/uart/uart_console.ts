/**
 * uart0 on isa0 as the system console (FreeBSD's uart_bus_attach with the console flag): for HVM
 * guests the serial port is the console, so the boot log is replayed into it and typed bytes go to
 * the shell.
 */
import type { VcpuRequest } from '../../../../../core/api/index.js';
import type { Driver } from '../../kern/bus.js';
import { kthreadAdd, type KThread } from '../../kern/kern_thread.js';
import type { IsaInterrupts } from '../../x86/io_apic.js';
import { COM1_IRQ, COM1_PORT, Ns8250 } from './uart_ns8250.js';

/** The uart driver; `onAttach` receives the chip so the idle loop can drain its output. */
export function uartConsoleDriver(isa: IsaInterrupts, onAttach: (uart: Ns8250) => void): Driver {
  return {
    name: 'uart',
    description: '16550 or compatible',
    *attach(k, dev) {
      const uart = new Ns8250(k.v, COM1_PORT);
      if (!(yield* uart.probe())) throw new Error(`${dev.nameunit}: no UART at port 0x${COM1_PORT.toString(16)}`);
      yield* uart.init();
      k.printf(`${dev.nameunit}: ${uart.model} port 0x${COM1_PORT.toString(16)}-0x${(COM1_PORT + 7).toString(16)} irq ${COM1_IRQ} vector 0x${isa.vectorOf(COM1_IRQ).toString(16)}`);
      k.printf(`${dev.nameunit}: console (115200,n,8,1)`);
      k.msgbuf.attachConsole((text) => uart.write(text));
      onAttach(uart);
      // Typed input goes to the shell in a kernel thread (FreeBSD's tty layer hands it to the reading
      // process), so a command never runs inside the interrupt handler, before its end of interrupt,
      // holding off every lower-priority vector. One thread at a time keeps lines in order.
      const queued: Uint8Array[] = [];
      let reader: KThread | undefined;
      const readInput = function* (): Generator<VcpuRequest, void, unknown> {
        for (let input = queued.shift(); input !== undefined; input = queued.shift()) yield* k.shell!.input(input);
      };
      yield* isa.setup(COM1_IRQ, {
        name: `irq${COM1_IRQ}: ${dev.nameunit}`,
        *handle() {
          const input = yield* uart.intr();
          if (input.length > 0 && k.shell !== undefined) {
            queued.push(input);
            if (reader === undefined || reader.done) reader = kthreadAdd(k, k.bsp, `${dev.nameunit} input`, readInput, k.bsp);
          }
          yield* uart.drain();
        },
      });
      yield* uart.drain();
    },
  };
}
