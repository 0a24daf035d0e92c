/** Options of the toolstack plugin. */
import { Type, type Static } from '../../../core/api/index.js';

export const ToolstackOptions = Type.Object(
  {
    shutdownTimeoutMs: Type.Integer({ minimum: 1, default: 60_000, description: 'Virtual milliseconds a guest has to acknowledge control/shutdown (libxl waits 60 s).' }),
  },
  { additionalProperties: false, description: 'The toolstack: domain builder, xenstore homes, lifecycle actions.' },
);
export type ToolstackOptions = Static<typeof ToolstackOptions>;
