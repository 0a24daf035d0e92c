/** Options of the blkback plugin. */
import { Type, type Static } from '../../../core/api/index.js';

export const BlkbackOptions = Type.Object(
  {
    maxIndirectSegments: Type.Integer({ minimum: 0, maximum: 4096, default: 256, description: 'What `feature-max-indirect-segments` offers frontends (Linux blkback\'s default 256); 0 offers no indirect requests.' }),
    batch: Type.Integer({ minimum: 1, maximum: 4096, default: 64, description: 'Requests served from one vbd\'s ring before the others\' get their turn.' }),
  },
  { additionalProperties: false, description: 'blkback: serves guests\' vbd and qdisk devices from raw and qcow2 image files.' },
);
export type BlkbackOptions = Static<typeof BlkbackOptions>;
