/** The acpi-pm plugin's manifest: the ACPI PM1/GPE0 blocks, PM timer, SCI and reset control of HVM guests. */
import { DeviceModel, NoOptions, definePlugin } from '../../../core/api/index.js';
import { AcpiPm } from './pm.js';

export { AcpiPm } from './pm.js';

/** The `acpi-pm` device model: every HVM and PVHVM guest (Xen's FADT always describes these blocks). */
export const acpiPmModel: DeviceModel = {
  name: 'acpi-pm',
  wanted: (_config, mode) => mode === 'hvm' || mode === 'pvhvm',
  create: (ctx) => new AcpiPm(ctx),
};

/** The `acpi-pm` plugin. */
export default definePlugin({
  name: 'acpi-pm',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'ACPI power management for HVM guests: PM1a event/control at 0xb000/0xb004 (S5 powers off), PM timer at 0xb008, GPE0 at 0xafe0, SCI on ISA IRQ 9, the power-button and reset triggers, reset control at 0xcf9',
  provides: ['EMU_ACPI_PM'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    ctx.provide(DeviceModel, acpiPmModel);
  },
});
