/** The pit8254 plugin's manifest: the i8254 programmable interval timer of HVM guests. */
import { DeviceModel, NoOptions, definePlugin } from '../../../core/api/index.js';
import { Pit8254 } from './pit.js';

export { Pit8254, PIT_BASE, PORT_B, PORT_B_BITS } from './pit.js';
export { PIT_FREQ, PitChannel } from './channel.js';

/** The `pit8254` device model: every HVM and PVHVM guest has one (Xen's own vPIT is off when a device model runs it). */
export const pit8254Model: DeviceModel = {
  name: 'pit8254',
  wanted: (_config, mode) => mode === 'hvm' || mode === 'pvhvm',
  create: (ctx) => new Pit8254(ctx),
};

/** The `pit8254` plugin. */
export default definePlugin({
  name: 'pit8254',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'i8254 PIT for HVM guests: ports 0x40-0x43 and 0x61, channel 0 on ISA IRQ 0, in virtual time',
  provides: ['EMU_PIT'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.provide(DeviceModel, pit8254Model);
  },
});
