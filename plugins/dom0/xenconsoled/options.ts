/** Options of the xenconsoled plugin. */
import { Type, type Static } from '../../../core/api/index.js';

export const XenconsoledOptions = Type.Object(
  {
    socketDir: Type.Optional(Type.String({ minLength: 1, description: 'Folder of the per-domain console sockets (`<domid>.sock`); default `<run dir>/console`.' })),
    logLimit: Type.Integer({ minimum: 4096, default: 1_048_576, description: 'Bytes of output kept per domain (the oldest go first), as xenconsoled\'s buffer limit.' }),
    inputLimit: Type.Integer({ minimum: 1024, default: 65_536, description: 'Bytes of console input waiting for room in a guest\'s in ring; input beyond it is dropped and logged.' }),
    logDir: Type.Optional(Type.String({ minLength: 1, description: 'Keep each guest\'s console output in `<logDir>/guest-<name>.log` (relative to the run directory), as `xenconsoled --log=guest` does: the file outlives the domain. Unset: no files.' })),
    clientBufferLimit: Type.Integer({ minimum: 4096, default: 1_048_576, description: 'Bytes of output queued for one slow socket client before further output to it is discarded (as a full pty discards).' }),
  },
  { additionalProperties: false, description: 'xenconsoled: guest consoles over the console ring, one Unix socket per domain.' },
);
export type XenconsoledOptions = Static<typeof XenconsoledOptions>;
