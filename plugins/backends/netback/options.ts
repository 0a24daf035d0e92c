/** Options of the netback plugin. */
import { Type, type Static } from '../../../core/api/index.js';

export const NetbackOptions = Type.Object(
  {
    rxQueue: Type.Integer({ minimum: 1, maximum: 65536, default: 256, description: 'Frames for a guest kept while it has posted no rx buffers; beyond it they are dropped and counted.' }),
    batch: Type.Integer({ minimum: 1, maximum: 4096, default: 64, description: 'Packets taken from one vif\'s tx ring before the others\' get their turn.' }),
  },
  { additionalProperties: false, description: 'netback: connects guests\' vifs to Dom0\'s bridges.' },
);
export type NetbackOptions = Static<typeof NetbackOptions>;
