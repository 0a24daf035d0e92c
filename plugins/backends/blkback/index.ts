/** The blkback plugin's manifest: the block backend, serving each guest's virtual disks from image files. */
import { DiskImages, Dom0Tasks, DomainRegistry, EventChannels, GrantTables, PluginError, Xenstore, definePlugin, token } from '../../../core/api/index.js';
import { Blkback } from './backend.js';
import { BlkbackOptions } from './options.js';

export { Blkback, BLKBACK_KINDS, type BlkbackKind, type VbdInfo } from './backend.js';
export type { VbdStats } from './requests.js';

/** The running block backend (block-list, leak checks). */
export const BlockBackend = token<Blkback>('BlockBackend');

/** The `blkback` plugin. */
export default definePlugin({
  name: 'blkback',
  version: '0.1.0',
  kind: 'backend',
  engine: '^0.1.0',
  description: 'The block backend: vbd (phy) and qdisk devices served from raw and qcow2 images, with flush, barrier, discard, indirect and persistent-grant support',
  provides: ['BLKBACK'],
  requires: ['XENSTORE', 'EVENT_CHANNELS', 'DISK_IMAGES'],
  configSchema: BlkbackOptions,
  register(ctx) {
    let backend: Blkback | undefined;
    return {
      start() {
        const xenstore = ctx.resolve(Xenstore);
        if (xenstore.dom0 === undefined) throw new PluginError('blkback', 'the XENSTORE provider offers no Dom0 client (Xenstore.dom0)');
        backend = new Blkback({
          xenstore: xenstore.dom0,
          evtchn: ctx.resolve(EventChannels),
          grants: ctx.resolve(GrantTables),
          domains: ctx.resolve(DomainRegistry),
          tasks: ctx.resolve(Dom0Tasks),
          images: ctx.resolve(DiskImages),
          log: ctx.log,
          maxIndirectSegments: ctx.options.maxIndirectSegments,
          batch: ctx.options.batch,
        });
        ctx.provide(BlockBackend, backend);
        backend.start();
      },
      dispose() {
        backend?.dispose();
      },
    };
  },
});
