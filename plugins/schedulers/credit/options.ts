/** The credit scheduler's options (Xen's `sched_credit_tslice_ms` and `sched_ratelimit_us` boot parameters). */
import { Type, type Static } from '../../../core/api/index.js';

/** Options of the `credit` plugin, checked (and defaulted) by the plugin host before `register()`. */
export const CreditOptions = Type.Object(
  {
    tslice_ms: Type.Integer({ minimum: 1, maximum: 1000, default: 30, description: 'Time slice in ms; also the accounting period over which credits are handed out.' }),
    ratelimit_us: Type.Integer({
      minimum: 0,
      maximum: 500_000,
      default: 1000,
      description: 'A vCPU that has run less than this many µs is not preempted (0 disables); must not exceed the time slice.',
    }),
  },
  { additionalProperties: false, description: 'The credit (credit1) scheduler.' },
);
export type CreditOptions = Static<typeof CreditOptions>;
