/** The piix-ide plugin's manifest: the PIIX3 IDE controller and emulated ATA disks of HVM guests. */
import { DeviceModel, DiskImages, NoOptions, definePlugin, type DiskSpec } from '../../../core/api/index.js';
import { imageFormat } from './disks.js';
import { PiixIde, type ImageOpener } from './piix.js';

export { PiixIde, PIIX3_IDE, IDE_CHANNELS, BMIDE_BAR, type ImageOpener } from './piix.js';
export { IdeChannel } from './channel.js';
export { IdeDrive, AtaError, IDE_MODEL, IDE_FIRMWARE } from './drive.js';
export { ideDisks, type IdeDiskSlot } from './disks.js';
export { identifyData, chsGeometry, type IdentifyInfo } from './identify.js';
export { ATA_CMD, ATA_S, ATA_E, ATA_CTL, ATA_D, ATA_REG, BM_CMD, BM_S, BM_REG, PRD_EOT } from './ata.js';

/**
 * The `piix-ide` device model. Every HVM/PVHVM guest gets the controller (it is part of QEMU's i440FX
 * machine); its disks are opened through `images()` when the guest's device model starts.
 */
export function piixIdeModel(images: () => DiskImages | undefined): DeviceModel {
  return {
    name: 'piix-ide',
    wanted: (_config, mode) => mode === 'hvm' || mode === 'pvhvm',
    create(ctx) {
      const open: ImageOpener = (spec: DiskSpec) => {
        const provider = images();
        if (provider === undefined) throw new Error(`disk ${spec.vdev} (${spec.target}): no DiskImages provider to open it with (enable the disk-images plugin)`);
        return provider.open(spec.target, { format: imageFormat(spec), readOnly: spec.access === 'ro' });
      };
      return new PiixIde(ctx, open);
    },
  };
}

/** The `piix-ide` plugin. */
export default definePlugin({
  name: 'piix-ide',
  version: '0.1.0',
  kind: 'device-model',
  engine: '^0.1.0',
  description: 'PIIX3 IDE controller (8086:7010) with ATA disks for HVM guests: legacy ports and IRQ 14/15, PIO and bus-master DMA, disks from the DiskImages layer',
  provides: ['EMU_IDE'],
  requires: ['DEVICE_MODEL'],
  configSchema: NoOptions,
  register(ctx) {
    // The image layer is a Dom0 plugin that may start after this one: it is looked up when a guest's model starts.
    ctx.provide(DeviceModel, piixIdeModel(() => ctx.resolveAll(DiskImages)[0]));
  },
});
