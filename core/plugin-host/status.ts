/** Plugin statuses as `xeno plugins` shows them, and the typed events the plugin host emits when they change. */
import type { PluginKind } from '../api/plugin.js';

/** Every status a plugin can be in, in the order of its life. */
export const PLUGIN_STATUSES = ['not-in-build', 'available', 'enabled', 'started', 'failed', 'skipped', 'stopped'] as const;
/**
 * - `not-in-build`: in the source tree, but the current build left it out;
 * - `available`: in this build, not enabled by the configuration;
 * - `enabled`: enabled and checked (manifest, engine, features, options), or registered and waiting to start;
 * - `started`: both lifecycle phases ran;
 * - `failed`: it could not be loaded or checked, or it threw in a phase (`error` says why);
 * - `skipped`: not run because a plugin or feature it needs failed (`error` names which);
 * - `stopped`: disposed after having run.
 */
export type PluginStatus = (typeof PLUGIN_STATUSES)[number];

/** One row of `xeno plugins`. */
export interface PluginStatusInfo {
  name: string;
  kind?: PluginKind;
  version?: string;
  description?: string;
  /** The tree path (`plugins/schedulers/credit`) or the package (`package xeno-plugin-hello`). */
  source: string;
  status: PluginStatus;
  /** Why it failed or was skipped; the message names the plugin. */
  error?: string;
}

/** One status change, as emitted on the host's `status` event. */
export interface PluginStatusChange {
  name: string;
  from: PluginStatus | undefined;
  to: PluginStatus;
  error?: string;
}

/** Events of the plugin host's emitter (eventemitter3, typed). */
export interface PluginHostEvents {
  /** A plugin changed status. */
  status: (change: PluginStatusChange) => void;
  /** A plugin's dispose hook threw; the other plugins still disposed. */
  disposeError: (plugin: string, error: Error) => void;
}
