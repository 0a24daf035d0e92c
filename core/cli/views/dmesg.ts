/** `xl dmesg`: the hypervisor console ring, oldest line first (tools/xl/xl_info.c, main_dmesg). */
import { Platform } from '../../api/platform.js';
import type { Host } from '../../host/host.js';

export interface XlDmesgSnapshot {
  /** Complete lines held by the ring (`(XEN) `, `(d<domid>) ` prefixes included). */
  lines: string[];
}

/** Reads the ring without clearing it (`xl dmesg -c` is the console's `clear()`, an action, not a view). */
export function xlDmesgView(host: Host): XlDmesgSnapshot {
  return { lines: host.container.resolve(Platform).hypervisorConsole().lines() };
}

/** Each line followed by a newline, as libxl's console reader hands them to xl. */
export function renderXlDmesg(s: XlDmesgSnapshot): string {
  return s.lines.map((l) => `${l}\n`).join('');
}
