/** The shape every device-spec parser returns: a value when it parsed, and messages (without location) to attach to a key path. */

/** Result of parsing one spec string. `value` is absent when there are errors. */
export interface SpecResult<T> {
  value?: T;
  errors: string[];
  warnings: string[];
}
