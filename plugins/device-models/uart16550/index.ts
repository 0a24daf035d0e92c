/** The uart16550 plugin's manifest: COM1 (and COM2) of HVM guests, as QEMU's isa-serial. */
import { DeviceModel, NoOptions, definePlugin, type DeviceModelContext, type EmulatedDevice } from '../../../core/api/index.js';
import { Uart16550 } from './uart.js';

export { Uart16550 } from './uart.js';

/** The ISA serial ports: COM1 at 0x3F8 on IRQ 4, COM2 at 0x2F8 on IRQ 3. */
export const COM_PORTS = [
  { base: 0x3f8, irq: 4 },
  { base: 0x2f8, irq: 3 },
] as const;

/** The guest's UARTs, one per `serial` entry (at most two). */
export class SerialPorts implements EmulatedDevice {
  readonly uarts: Uart16550[] = [];

  constructor(ctx: DeviceModelContext) {
    const count = Math.min(ctx.config.serial.filter((s) => s !== 'none').length, COM_PORTS.length);
    try {
      for (let i = 0; i < count; i++) this.uarts.push(new Uart16550(ctx, COM_PORTS[i]!.base, COM_PORTS[i]!.irq, ctx.serial(i)));
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  dump(): string {
    return this.uarts.map((u) => u.dump()).join('; ');
  }

  dispose(): void {
    for (const u of this.uarts.splice(0)) u.dispose();
  }
}

/** The `uart16550` device model. */
export const uart16550Model: DeviceModel = {
  name: 'uart16550',
  wanted: (config, mode) => (mode === 'hvm' || mode === 'pvhvm') && config.serial.some((s) => s !== 'none'),
  create: (ctx) => new SerialPorts(ctx),
};

/** The `uart16550` plugin. */
export default definePlugin({
  name: 'uart16550',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: '16550A UARTs for HVM guests: COM1 (0x3F8, IRQ 4) and COM2 (0x2F8, IRQ 3), COM1 joined to the console',
  provides: ['EMU_UART'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.provide(DeviceModel, uart16550Model);
  },
});
