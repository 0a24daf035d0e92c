/** FreeBSD's `ifconfig` output for an interface of the stack. */
import { formatIp4 } from './addr.js';
import { formatMac } from './ether.js';
import type { NetIf } from './netif.js';

const IFF_UP = 0x1;
const IFF_BROADCAST = 0x2;
const IFF_DRV_RUNNING = 0x40;
const IFF_SIMPLEX = 0x800;
const IFF_MULTICAST = 0x8000;
const ND6_IFF_PERFORMNUD = 0x1;
const ND6_IFF_AUTO_LINKLOCAL = 0x20;

/** The lines `ifconfig xn0` prints (tab-indented detail lines, newline-terminated). */
export function formatIfconfig(ifp: NetIf): string {
  const up = ifp.driver.up;
  const names: [number, string][] = [
    [IFF_UP, 'UP'],
    [IFF_BROADCAST, 'BROADCAST'],
    [up ? IFF_DRV_RUNNING : 0, 'RUNNING'],
    [IFF_SIMPLEX, 'SIMPLEX'],
    [IFF_MULTICAST, 'MULTICAST'],
  ];
  const set = names.filter(([bit]) => bit !== 0);
  const flags = set.reduce((f, [bit]) => f | bit, 0);
  const lines = [`${ifp.name}: flags=${flags.toString(16)}<${set.map(([, n]) => n).join(',')}> metric 0 mtu ${ifp.driver.mtu}`, `\tether ${formatMac(ifp.mac)}`];
  const a = ifp.inet;
  if (a !== undefined) lines.push(`\tinet ${formatIp4(a.addr)} netmask 0x${a.mask.toString(16).padStart(8, '0')} broadcast ${formatIp4(a.broadcast)}`);
  lines.push(`\tinet6 ${ifp.linkLocal.text}%${ifp.name} prefixlen 64 scopeid 0x${ifp.index.toString(16)}`);
  for (const a6 of ifp.inet6) lines.push(`\tinet6 ${a6.text} prefixlen ${a6.prefixLen}`);
  lines.push('\tmedia: Ethernet manual', `\tstatus: ${up ? 'active' : 'no carrier'}`, `\tnd6 options=${(ND6_IFF_PERFORMNUD | ND6_IFF_AUTO_LINKLOCAL).toString(16)}<PERFORMNUD,AUTO_LINKLOCAL>`);
  return lines.join('\n') + '\n';
}
