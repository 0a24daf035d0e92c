/** Options of the cpu-loop workload. */
import { Type, type Static } from '../../../core/api/index.js';

export const CpuLoopOptions = Type.Object(
  {
    domains: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Names of the domains whose vCPUs run the loop (default: every guest, not Domain-0).' })),
    burstCycles: Type.Integer({ minimum: 1, default: 2_000_000, description: 'Mean cycles of computation per burst.' }),
    jitter: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'Bursts vary uniformly by ± this fraction, drawn from the seeded random source.' }),
    sleepUs: Type.Integer({ minimum: 0, default: 1000, description: 'Microseconds of sleep between bursts (0: yield instead).' }),
    hypercall: Type.Boolean({ default: true, description: 'Make a xen_version hypercall after each burst.' }),
  },
  { additionalProperties: false },
);
export type CpuLoopOptions = Static<typeof CpuLoopOptions>;
