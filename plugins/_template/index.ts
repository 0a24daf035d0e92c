/** The template plugin's manifest: what every plugin folder's `index.ts` looks like. */
import { Logger, definePlugin } from '../../core/api/index.js';
import { TemplateOptions } from './options.js';
import { HeartbeatService, TemplateHeartbeat, TemplateOptionsToken } from './template.js';

export { TemplateHeartbeat } from './template.js';
export type { TemplateMetrics } from './metrics.js';
export type { TemplatePersist } from './persist.js';

/** The `template` plugin: a heartbeat in virtual time, contributed as {@link TemplateHeartbeat}. */
export default definePlugin({
  name: 'template',
  version: '0.1.0',
  kind: 'dom0-service',
  engine: '^0.1.0',
  description: 'A heartbeat in virtual time: the skeleton every plugin folder follows',
  configSchema: TemplateOptions,
  register(ctx) {
    // A child container of our own: our registrations go when we go, the host's stay untouched.
    const scope = ctx.container.createChildContainer();
    scope.register(TemplateOptionsToken, { useValue: ctx.options });
    scope.register(Logger, { useValue: ctx.log });
    const heartbeat = scope.resolve(HeartbeatService);
    ctx.provide(TemplateHeartbeat, heartbeat);
    ctx.onDispose(() => scope.dispose());
    return {
      start: () => heartbeat.start(),
      dispose: () => heartbeat.stop(),
    };
  },
});
