/**
 * DI tokens for the core's services. A token is a symbol that shares its interface's name, so
 * `@inject(Engine) engine: Engine` reads naturally. Register only from a plugin's `register()`.
 */
import type { InjectionToken } from 'tsyringe';
import type { Engine as EngineImpl } from '../engine/engine.js';
import type { CostModel as CostModelShape } from '../engine/cost-model.js';

/** Makes a typed token. The description is the interface's name. */
export function token<T>(name: string): InjectionToken<T> {
  return Symbol.for(`xenoserver:${name}`) as InjectionToken<T>;
}

/** The simulation engine (virtual time, events, trace, rng). */
export type Engine = EngineImpl;
export const Engine = token<Engine>('Engine');
/** The cost model in force. */
export type CostModel = CostModelShape;
export const CostModel = token<CostModel>('CostModel');

/**
 * The host's run directory (absolute): `./run/<host name>` of the folder `xeno` was started in. Plugins
 * put sockets and pid files there (`<run dir>/xenstored.sock`). The folder may not exist yet.
 */
export const RunDir = token<string>('RunDir');
