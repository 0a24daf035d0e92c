/** The template plugin's metrics: plain counters, read as a snapshot. */

/** Counters of one heartbeat. Only ever incremented; a snapshot is a copy. */
export interface TemplateMetrics {
  /** Beats since the plugin started (not counting those restored from a persist record). */
  beats: number;
  /** Persist records restored. */
  restores: number;
}

/** Fresh counters, all zero. */
export function createTemplateMetrics(): TemplateMetrics {
  return { beats: 0, restores: 0 };
}
