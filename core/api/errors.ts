/** Typed errors that say who and where. Every error a user can see carries its location. */
import { XenErrno, type XenErrnoName } from '../public/errno.js';

/** Where an error happened: a file and key path, a plugin, a domain. All parts optional. */
export interface ErrorLocation {
  file?: string;
  /** Key path inside the file, e.g. `domains[2].disk[0]`. */
  path?: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** 1-based column on that line, for syntax errors. */
  column?: number;
  plugin?: string;
  domid?: number;
}

/** Renders a location the way every message shows it: `file:line[:column] › key.path (plugin p, dom3)`. */
export function formatLocation(where: ErrorLocation): string {
  const parts: string[] = [];
  if (where.file !== undefined) {
    const column = where.line !== undefined && where.column !== undefined ? `:${where.column}` : '';
    parts.push(where.line !== undefined ? `${where.file}:${where.line}${column}` : where.file);
  }
  if (where.path !== undefined && where.path !== '') parts.push(where.path);
  let text = parts.join(' › ');
  const tags: string[] = [];
  if (where.plugin !== undefined) tags.push(`plugin ${where.plugin}`);
  if (where.domid !== undefined) tags.push(`dom${where.domid}`);
  if (tags.length > 0) text += `${text ? ' ' : ''}(${tags.join(', ')})`;
  return text;
}

/** Base of every error xenoserver raises on purpose. `code` is stable and machine-readable. */
export class XenoError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly where: ErrorLocation = {},
    options?: { cause?: unknown },
  ) {
    const at = formatLocation(where);
    super(at ? `${at}: ${detail}` : detail, options);
    this.name = new.target.name;
  }
}

/** A configuration file or value is wrong. */
export class ConfigError extends XenoError {
  constructor(detail: string, where: ErrorLocation = {}, options?: { cause?: unknown }) {
    super('config', detail, where, options);
  }
}

/** A plugin could not be loaded, validated, registered or started. */
export class PluginError extends XenoError {
  constructor(plugin: string, detail: string, options?: { cause?: unknown }) {
    super('plugin', detail, { plugin }, options);
  }
}

/**
 * A guest-facing failure: carries the Xen errno the guest will see. Raised inside hypercall handlers
 * and turned into `-errno` in one place, the dispatcher.
 */
export class GuestError extends XenoError {
  readonly errno: number;
  constructor(errno: XenErrnoName, detail: string, where: ErrorLocation = {}) {
    super(errno, detail, where);
    this.errno = XenErrno[errno];
  }
}

/** An invariant of the simulated hardware was violated by its user (e.g. overlapping I/O ranges). */
export class HardwareError extends XenoError {
  constructor(code: string, detail: string, where: ErrorLocation = {}) {
    super(code, detail, where);
  }
}
