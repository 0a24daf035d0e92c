/** The cpu-loop workload plugin: synthetic CPU load with hypercalls for guests that have no kernel yet. */
import { definePlugin, DomainRegistry, Engine } from '../../../core/api/index.js';
import { CpuLoopOptions } from './options.js';
import { CpuLoop, CpuLoopToken } from './cpu-loop.js';

export { CpuLoop, CpuLoopToken, type CpuLoopMetrics } from './cpu-loop.js';

export default definePlugin({
  name: 'cpu-loop',
  version: '0.1.0',
  kind: 'workload',
  engine: '^0.1.0',
  description: 'Compute bursts, a hypercall and a sleep, forever, on chosen guests',
  configSchema: CpuLoopOptions,
  register(ctx) {
    const loop = new CpuLoop(ctx.options, ctx.resolve(Engine));
    ctx.provide(CpuLoopToken, loop);
    return {
      start() {
        ctx.onDispose(loop.follow(ctx.resolve(DomainRegistry)));
      },
    };
  },
});

