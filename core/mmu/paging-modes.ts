/** The registry of paging modes by name, like Xen's paging_mode: `pv-direct`, `hap`, `shadow`, and any a plugin adds. */
import { HardwareError } from '../api/errors.js';
import type { PagingMode, PagingModes } from '../api/memory.js';
import { hapMode } from './modes/hap.js';
import { pvDirectMode } from './modes/pv-direct.js';
import { shadowMode } from './modes/shadow.js';

/** {@link PagingModes} held in a Map. A name can be registered once. */
export class PagingModeRegistry implements PagingModes {
  private readonly modes = new Map<string, PagingMode>();

  constructor(modes: readonly PagingMode[] = []) {
    for (const mode of modes) this.register(mode);
  }

  register(mode: PagingMode): void {
    if (this.modes.has(mode.name)) throw new HardwareError('paging-mode', `paging mode "${mode.name}" is already registered`);
    this.modes.set(mode.name, mode);
  }

  get(name: string): PagingMode {
    const mode = this.modes.get(name);
    if (mode === undefined) throw new HardwareError('paging-mode', `unknown paging mode "${name}" (known: ${this.names().join(', ')})`);
    return mode;
  }

  has(name: string): boolean {
    return this.modes.has(name);
  }

  names(): string[] {
    return [...this.modes.keys()];
  }
}

/** The core's paging modes. */
export const builtinPagingModes: readonly PagingMode[] = [pvDirectMode, hapMode, shadowMode];

/** A registry holding the core's paging modes. */
export function defaultPagingModes(): PagingModeRegistry {
  return new PagingModeRegistry(builtinPagingModes);
}
