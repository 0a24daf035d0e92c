/** The disk-images plugin's options: how much qcow2 metadata each open image may cache. */
import { Type, type Static } from '../../../core/api/index.js';

/** Options of the `disk-images` plugin. */
export const DiskImagesOptions = Type.Object(
  {
    l2CacheBytes: Type.Integer({
      minimum: 0,
      default: 4 << 20,
      description: 'Bytes of qcow2 L2 tables each open image keeps in memory (at least 4 and at most 4096 tables). 4 MiB maps 32 GiB of a disk with 64 KiB clusters.',
    }),
    refcountCacheBytes: Type.Integer({
      minimum: 0,
      default: 1 << 20,
      description: 'Bytes of qcow2 refcount blocks each image opened read-write keeps in memory (at least 4 and at most 256 blocks).',
    }),
  },
  { additionalProperties: false, description: 'Raw and qcow2 image files, the storage under every virtual disk.' },
);
export type DiskImagesOptions = Static<typeof DiskImagesOptions>;
