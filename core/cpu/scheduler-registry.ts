/** The scheduler registry: scheduler ops factories by name, as Xen picks one with `sched=`. */
import type { SchedulerFactory, SchedulerOps, SchedulerRegistry } from '../api/scheduler.js';
import { ConfigError, XenoError } from '../api/errors.js';

export class SchedulerRegistryImpl implements SchedulerRegistry {
  private readonly factories = new Map<string, SchedulerFactory>();

  register(name: string, factory: SchedulerFactory): () => void {
    if (this.factories.has(name)) throw new XenoError('sched', `scheduler "${name}" is already registered`);
    this.factories.set(name, factory);
    return () => {
      if (this.factories.get(name) === factory) this.factories.delete(name);
    };
  }

  create(name: string): SchedulerOps {
    const factory = this.factories.get(name);
    if (factory === undefined) {
      const known = this.names();
      throw new ConfigError(`unknown scheduler "${name}" (registered: ${known.length > 0 ? known.join(', ') : 'none'})`, { path: 'sched' });
    }
    const ops = factory();
    if (ops.optName !== name) throw new XenoError('sched', `scheduler registered as "${name}" calls itself "${ops.optName}"`);
    return ops;
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  names(): string[] {
    return [...this.factories.keys()].sort();
  }
}
