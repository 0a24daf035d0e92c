/** The disk-images plugin's manifest: raw and qcow2 image files, opened for blkback and the emulated disk controllers. */
import { DiskImages, definePlugin } from '../../../core/api/index.js';
import { DiskImagesOptions } from './options.js';
import { ImageStore } from './store.js';

export { ImageStore, openImageFile, probeFormat } from './store.js';
export { DiskImagesOptions } from './options.js';

/** The `disk-images` plugin: provides {@link DiskImages}. */
export default definePlugin({
  name: 'disk-images',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'Raw and qcow2 (v2/v3) image files as qemu-img makes them: the storage under every virtual disk',
  provides: ['DISK_IMAGES'],
  requires: [],
  configSchema: DiskImagesOptions,
  register(ctx) {
    const store = new ImageStore({ l2CacheBytes: ctx.options.l2CacheBytes, refcountCacheBytes: ctx.options.refcountCacheBytes });
    ctx.provide(DiskImages, store);
    return { dispose: () => store.closeAll() };
  },
});
