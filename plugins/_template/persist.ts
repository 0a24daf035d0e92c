/** The template plugin's persist record: typed, versioned, named fields (never positional). */
import { PluginError, Type, Value, type Static } from '../../core/api/index.js';

/** The record's current version. Bump it when the fields change, and keep reading the old ones. */
export const TEMPLATE_PERSIST_VERSION = 1;

/** Version 1 of the heartbeat's saved state. */
export const TemplatePersistV1 = Type.Object(
  {
    version: Type.Literal(1),
    beats: Type.Integer({ minimum: 0, description: 'Beats so far.' }),
    lastBeatAt: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Virtual time of the last beat (ns), or null before the first.' }),
  },
  { additionalProperties: false },
);
export type TemplatePersist = Static<typeof TemplatePersistV1>;

/** Checks a record read back from a snapshot; throws a PluginError naming what is wrong. */
export function readTemplatePersist(record: unknown): TemplatePersist {
  if (Value.Check(TemplatePersistV1, record)) return record;
  const version = (record as { version?: unknown } | null)?.version;
  if (version !== TEMPLATE_PERSIST_VERSION) throw new PluginError('template', `persist record version ${String(version)} is not supported (expected ${TEMPLATE_PERSIST_VERSION})`);
  const first = Value.Errors(TemplatePersistV1, record).First();
  throw new PluginError('template', `persist record is invalid at ${first?.path || '/'}: ${first?.message ?? 'unknown problem'}`);
}
