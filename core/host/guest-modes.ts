/** The registry of guest modes: each guest-mode plugin adds its provider in `register()`, the domain builder looks them up. */
import { ConfigError } from '../api/errors.js';
import type { GuestMode } from '../api/domain.js';
import type { GuestModeProvider, GuestModes } from '../api/guest-mode.js';

export class GuestModeRegistry implements GuestModes {
  private readonly providers = new Map<GuestMode, GuestModeProvider>();

  register(provider: GuestModeProvider): void {
    if (this.providers.has(provider.mode)) throw new ConfigError(`guest mode "${provider.mode}" is registered twice`);
    this.providers.set(provider.mode, provider);
  }

  get(mode: GuestMode): GuestModeProvider | undefined {
    return this.providers.get(mode);
  }

  modes(): GuestMode[] {
    return [...this.providers.keys()].sort();
  }
}
