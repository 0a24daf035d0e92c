/** `xl domid NAME` and `xl domname ID` (tools/xl/xl_info.c, main_domid / main_domname). */
import type { Host } from '../../host/host.js';
import { XlError } from './common.js';

export interface XlDomidSnapshot {
  domid: number;
}

export interface XlDomnameSnapshot {
  name: string;
}

/** The id of the domain called exactly `name`; xl's error when there is none. */
export function xlDomidView(host: Host, name: string): XlDomidSnapshot {
  const d = host.domains.list().find((x) => x.name === name);
  if (d === undefined) throw new XlError(`Can't get domid of domain name '${name}', maybe this domain does not exist.`);
  return { domid: d.domid };
}

/** C's `strtol(text, &end, 10)`: the value and whether any digit was read. */
function strtol(text: string): { value: number; digits: boolean } {
  const m = /^[\t\n\v\f\r ]*([+-]?)(\d*)/.exec(text)!;
  if (m[2] === '') return { value: 0, digits: false };
  const magnitude = Number(m[2]);
  return { value: m[1] === '-' ? -magnitude : magnitude, digits: true };
}

/** The name of domain `id` (parsed as xl does: leading digits, taken as a uint32). */
export function xlDomnameView(host: Host, id: string): XlDomnameSnapshot {
  const { value, digits } = strtol(id);
  const domid = value >>> 0;
  if (domid === 0 && !digits) throw new XlError('Invalid domain id.\n');
  const d = host.domains.get(domid);
  if (d === undefined) throw new XlError(`Can't get domain name of domain id '${domid}', maybe this domain does not exist.`);
  return { name: d.name };
}

export function renderXlDomid(s: XlDomidSnapshot): string {
  return `${s.domid}\n`;
}

export function renderXlDomname(s: XlDomnameSnapshot): string {
  return `${s.name}\n`;
}
