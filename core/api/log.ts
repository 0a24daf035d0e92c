/** Logging: every line carries the virtual time and the component's name. */
import type { InjectionToken } from 'tsyringe';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogRecord {
  /** Virtual time in nanoseconds. */
  time: number;
  level: LogLevel;
  /** Who logged: `core.mmu`, `plugin credit`, `dom3`. */
  source: string;
  message: string;
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A logger for a sub-component: `source` becomes `parent.child`. */
  child(name: string): Logger;
}

/** Token of the host's root logger; plugins receive their own child in their context. */
export const Logger = Symbol.for('xenoserver:Logger') as InjectionToken<Logger>;

export type LogSink = (record: LogRecord) => void;

/** A logger writing to a sink, stamping records with `clock()` (virtual time). */
export function createLogger(source: string, sink: LogSink, clock: () => number, minLevel: LogLevel = 'info'): Logger {
  const min = LEVELS[minLevel];
  const emit = (level: LogLevel, message: string) => {
    if (LEVELS[level] >= min) sink({ time: clock(), level, source, message });
  };
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    child: (name) => createLogger(`${source}.${name}`, sink, clock, minLevel),
  };
}

/** A sink that keeps records in memory (tests, reports). */
export class MemoryLogSink {
  readonly records: LogRecord[] = [];
  readonly sink: LogSink = (r) => {
    this.records.push(r);
  };
  /** Messages at `level` or above, formatted `source: message`. */
  lines(level: LogLevel = 'debug'): string[] {
    return this.records.filter((r) => LEVELS[r.level] >= LEVELS[level]).map((r) => `${r.source}: ${r.message}`);
  }
}

/** Formats a record for a terminal: `[   1.234567] warn core.mmu: message`. */
export function formatLogRecord(r: LogRecord): string {
  const secs = (r.time / 1e9).toFixed(6).padStart(12);
  return `[${secs}] ${r.level.padEnd(5)} ${r.source}: ${r.message}`;
}
