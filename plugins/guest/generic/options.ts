/** Options of the generic kernel plugin. */
import { Type, type Static } from '../../../core/api/index.js';

export const GenericKernelOptions = Type.Object(
  {
    prompt: Type.String({ default: '# ', description: 'The shell prompt.' }),
    tickUs: Type.Integer({ minimum: 10, default: 1000, description: 'Microseconds between looks at the rings when the kernel cannot poll its event channels (PV guests while paging is off).' }),
    kernconfDir: Type.String({ default: '', description: 'Folder of kernel configuration files (one kernel per file); empty = the project\'s config/kernels.' }),
    consoleDrainMs: Type.Integer({ minimum: 0, default: 100, description: 'Milliseconds a shutting-down kernel waits for the console backend to take its last output.' }),
  },
  { additionalProperties: false },
);
export type GenericKernelOptions = Static<typeof GenericKernelOptions>;
