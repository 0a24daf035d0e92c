/** The credit scheduler plugin's manifest: registers Xen's credit1 under `sched=credit`. */
import { SchedulerRegistry, definePlugin } from '../../../core/api/index.js';
import { CreditOptions } from './options.js';
import { createCreditScheduler } from './credit.js';

export { CreditScheduler, CSCHED_PRI, CSCHED_DEFAULT_WEIGHT, createCreditScheduler } from './credit.js';
export { CreditOptions } from './options.js';

/** The `credit` plugin: adds the credit scheduler to the {@link SchedulerRegistry}. */
export default definePlugin({
  name: 'credit',
  version: '0.1.0',
  kind: 'scheduler',
  engine: '^0.1.0',
  description: "Xen's credit scheduler: proportional share by weight, caps, boost on wake, work stealing",
  provides: ['SCHED_CREDIT'],
  configSchema: CreditOptions,
  register(ctx) {
    const options = ctx.options;
    createCreditScheduler(options); // validates option combinations now, where the plugin host can name us
    const unregister = ctx.resolve(SchedulerRegistry).register('credit', () => createCreditScheduler(options));
    ctx.onDispose(unregister);
  },
});
