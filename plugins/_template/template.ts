/** The template plugin's implementation: a heartbeat that beats every `periodNs` of virtual time. */
import { Engine, Logger, inject, injectable, token } from '../../core/api/index.js';
import { createTemplateMetrics, type TemplateMetrics } from './metrics.js';
import type { TemplateOptions } from './options.js';
import { TEMPLATE_PERSIST_VERSION, readTemplatePersist, type TemplatePersist } from './persist.js';

/** What other plugins see of a heartbeat; contributed under the token of the same name. */
export interface TemplateHeartbeat {
  /** Beats so far (restored ones included). */
  readonly beats: number;
  /** A copy of the counters. */
  metrics(): TemplateMetrics;
  /** The state to put in a snapshot. */
  save(): TemplatePersist;
  /** Takes back a state from {@link save}; throws if the record is not one. */
  restore(record: unknown): void;
}
export const TemplateHeartbeat = token<TemplateHeartbeat>('template.TemplateHeartbeat');

/** The plugin's own options, registered in its child container for the constructor below. */
export const TemplateOptionsToken = token<TemplateOptions>('template.TemplateOptions');

/** The heartbeat. DI-constructed: `@injectable()` registers nothing, `@inject` names every parameter. */
@injectable()
export class HeartbeatService implements TemplateHeartbeat {
  private readonly counters = createTemplateMetrics();
  private count = 0;
  private lastBeatAt: number | null = null;
  private pending: ReturnType<Engine['after']> | undefined;

  constructor(
    @inject(Engine) private readonly engine: Engine,
    @inject(TemplateOptionsToken) private readonly options: TemplateOptions,
    @inject(Logger) private readonly log: Logger,
  ) {}

  get beats(): number {
    return this.count;
  }

  /** Schedules the first beat one period from now. */
  start(): void {
    this.log.info(`beating every ${this.options.periodNs} ns`);
    this.schedule();
  }

  /** Cancels the next beat. */
  stop(): void {
    if (this.pending !== undefined) this.engine.cancel(this.pending);
    this.pending = undefined;
  }

  metrics(): TemplateMetrics {
    return { ...this.counters };
  }

  save(): TemplatePersist {
    return { version: TEMPLATE_PERSIST_VERSION, beats: this.count, lastBeatAt: this.lastBeatAt };
  }

  restore(record: unknown): void {
    const state = readTemplatePersist(record);
    this.count = state.beats;
    this.lastBeatAt = state.lastBeatAt;
    this.counters.restores++;
  }

  private schedule(): void {
    const { maxBeats, periodNs } = this.options;
    if (maxBeats > 0 && this.counters.beats >= maxBeats) return;
    this.pending = this.engine.after(periodNs, (now) => this.beat(now));
  }

  private beat(now: number): void {
    this.pending = undefined;
    this.count++;
    this.counters.beats++;
    this.lastBeatAt = now;
    this.log.info(`${this.options.message} ${this.count}`);
    this.schedule();
  }
}
