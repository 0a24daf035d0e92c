/** The template plugin's options: the schema is the documentation, so every property has a description. */
import { Type, type Static } from '../../core/api/index.js';

/** Options of the `template` plugin, checked (and defaulted) by the plugin host before `register()`. */
export const TemplateOptions = Type.Object(
  {
    periodNs: Type.Integer({ minimum: 1, default: 1_000_000, description: 'Virtual nanoseconds between two heartbeats.' }),
    message: Type.String({ minLength: 1, default: 'heartbeat', description: 'Text logged on every beat, followed by the beat number.' }),
    maxBeats: Type.Integer({ minimum: 0, default: 0, description: 'Stop after this many beats; 0 beats until the plugin is disposed.' }),
  },
  { additionalProperties: false, description: 'A heartbeat in virtual time.' },
);
export type TemplateOptions = Static<typeof TemplateOptions>;
