/**
 * The split-driver device directories libxl writes before the drivers start (libxl_device.c, _disk.c,
 * _nic.c; xen-facts §2.2): each device's frontend directory in the guest's home and its backend
 * directory in the backend domain's (Dom0), both at XenbusState Initialising (1), with libxl's
 * permissions. The backends that answer them arrive with the split drivers.
 */
import { formatPciAddress, type DiskSpec, type DomainConfig, type VifSpec, type XenstoreOps } from '../../../core/api/index.js';

/** The backend directories Dom0 keeps (created once, like a Dom0 that has served a guest; they stay when the last one goes). */
export const BACKEND_KINDS = ['console', 'vbd', 'qdisk', 'vif', 'pci'] as const;

/**
 * Where libxl puts a disk's backend: raw images go to the kernel's blkback (`vbd`, type phy, params the
 * path), other formats to QEMU's qdisk (`qdisk`, params `<format>:<path>`), as libxl__device_disk_set_backend picks.
 */
export function diskBackend(disk: DiskSpec, file: string): { kind: 'vbd' | 'qdisk'; type: string; params: string } {
  const qdisk = disk.backendtype === 'qdisk' || (disk.backendtype === undefined && disk.format !== 'raw');
  return qdisk ? { kind: 'qdisk', type: 'qdisk', params: `${disk.format}:${file}` } : { kind: 'vbd', type: disk.backendtype ?? 'phy', params: file };
}

/** XenbusStateInitialising. */
const INITIALISING = '1';

/** The `virtual-device` number of a vdev name (xen-vbd-interface(7)); undefined for a name it cannot encode. */
export function virtualDevice(vdev: string): number | undefined {
  const letters = (s: string): number => [...s].reduce((n, c) => n * 26 + (c.charCodeAt(0) - 96), 0) - 1;
  let m = /^xvd([a-z]+)(\d*)$/.exec(vdev);
  if (m) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    return disk <= 15 && part <= 15 ? (202 << 8) | (disk << 4) | part : (1 << 28) | (disk << 8) | part;
  }
  m = /^sd([a-z]+)(\d*)$/.exec(vdev);
  if (m) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    return disk <= 15 && part <= 15 ? (8 << 8) | (disk << 4) | part : (1 << 28) | (disk << 8) | part;
  }
  m = /^hd([a-d])(\d*)$/.exec(vdev);
  if (m) {
    const disk = letters(m[1]!);
    const part = m[2] === '' ? 0 : Number(m[2]);
    return disk < 2 ? (3 << 8) | (disk << 6) | part : (22 << 8) | ((disk - 2) << 6) | part;
  }
  m = /^d(\d+)p(\d+)$/.exec(vdev);
  if (m) return (1 << 28) | (Number(m[1]) << 8) | Number(m[2]);
  return undefined;
}

/** A MAC in Xen's OUI (00:16:3e) from three random bytes. */
export function xenMac(bytes: readonly number[]): string {
  return ['00', '16', '3e', ...bytes.slice(0, 3).map((b) => (b & 0xff).toString(16).padStart(2, '0'))].join(':');
}

interface Pair {
  fe: string;
  be: string;
}

function pair(tx: XenstoreOps, domid: number, kind: string, devid: number): Pair {
  // A qdisk's frontend is still a vbd to the guest.
  const fe = `/local/domain/${domid}/device/${kind === 'qdisk' ? 'vbd' : kind}/${devid}`;
  const be = `/local/domain/0/backend/${kind}/${domid}/${devid}`;
  tx.write(fe, '');
  tx.setPerms(fe, [`n${domid}`, 'r0']);
  tx.write(be, '');
  tx.setPerms(be, ['n0', `r${domid}`]);
  tx.write(`${fe}/backend`, be);
  tx.write(`${fe}/backend-id`, '0');
  tx.write(`${fe}/state`, INITIALISING);
  tx.write(`${be}/frontend`, fe);
  tx.write(`${be}/frontend-id`, String(domid));
  tx.write(`${be}/online`, '1');
  tx.write(`${be}/state`, INITIALISING);
  return { fe, be };
}

/** One disk's frontend and backend directories (`file`: its image by absolute path); returns the xenstore requests. */
export function writeDisk(tx: XenstoreOps, domid: number, disk: DiskSpec, pv: boolean, file: string): number {
  const vdev = virtualDevice(disk.vdev);
  if (vdev === undefined) return 0;
  const backend = diskBackend(disk, file);
  const { fe, be } = pair(tx, domid, backend.kind, vdev);
  const entries: [string, string][] = [
    [`${be}/params`, backend.params],
    [`${be}/script`, disk.script ?? '/etc/xen/scripts/block'],
    [`${be}/type`, backend.type],
    [`${be}/mode`, disk.access === 'ro' ? 'r' : 'w'],
    [`${be}/dev`, disk.vdev],
    [`${be}/device-type`, disk.devtype],
    [`${be}/removable`, disk.devtype === 'cdrom' ? '1' : '0'],
    [`${be}/bootable`, '1'],
    [`${be}/discard-enable`, disk.discard === false ? '0' : '1'],
    [`${be}/specification`, disk.specification],
    [`${fe}/virtual-device`, String(vdev)],
    [`${fe}/device-type`, disk.devtype],
    [`${fe}/trusted`, disk.trusted ? '1' : '0'],
  ];
  if (pv) entries.push([`${fe}/protocol`, 'x86_64-abi']);
  for (const [k, v] of entries) tx.write(k, v);
  return 13 + entries.length;
}

/** One NIC's directories, as device `devid` with MAC `address`; returns the xenstore requests. */
export function writeVif(tx: XenstoreOps, domid: number, vif: VifSpec, devid: number, address: string): number {
  const { fe, be } = pair(tx, domid, 'vif', devid);
  const entries: [string, string][] = [
    [`${be}/script`, vif.script],
    [`${be}/mac`, address],
    [`${be}/bridge`, vif.bridge],
    [`${be}/handle`, String(devid)],
    [`${be}/type`, vif.type === 'ioemu' ? 'vif_ioemu' : 'vif'],
    [`${be}/hotplug-status`, ''],
    [`${fe}/handle`, String(devid)],
    [`${fe}/mac`, address],
    [`${fe}/trusted`, vif.trusted ? '1' : '0'],
  ];
  if (vif.mtu !== undefined) entries.push([`${be}/mtu`, String(vif.mtu)], [`${fe}/mtu`, String(vif.mtu)]);
  if (vif.ip !== undefined) entries.push([`${be}/ip`, vif.ip]);
  for (const [k, v] of entries) tx.write(k, v);
  return 13 + entries.length;
}

/**
 * Writes every disk's and NIC's directories; returns the number of xenstore requests. `mac` draws a MAC
 * for a vif without one; `file` resolves an image path as the config names it.
 */
export function writeDevices(tx: XenstoreOps, domid: number, config: DomainConfig, mac: () => string, file: (target: string) => string): number {
  let ops = 0;
  for (const disk of config.disk) ops += writeDisk(tx, domid, disk, config.type === 'pv', disk.target === '' ? '' : file(disk.target));
  config.vif.forEach((vif, index) => {
    ops += writeVif(tx, domid, vif, vif.devid ?? index, vif.mac ?? mac());
  });
  if (config.pci.length > 0) ops += writePciDevices(tx, domid, config);
  return ops;
}

/**
 * pciback's directories as libxl_pci.c writes them: one device 0 for all of the guest's passthrough
 * devices, `key-N` / `dev-N` (DDDD:BB:DD.F), `vdevfn-N` when a slot is pinned, `opts-N`, `state-N`,
 * `num_devs`; the backend's `domain` is the guest's name.
 */
function writePciDevices(tx: XenstoreOps, domid: number, config: DomainConfig): number {
  const { be } = pair(tx, domid, 'pci', 0);
  const entries: [string, string][] = [[`${be}/domain`, config.name]];
  config.pci.forEach((spec, i) => {
    const bdf = formatPciAddress(spec.address);
    entries.push([`${be}/key-${i}`, bdf], [`${be}/dev-${i}`, bdf]);
    if (spec.vslot !== undefined) entries.push([`${be}/vdevfn-${i}`, (spec.vslot << 3).toString(16)]);
    entries.push([`${be}/opts-${i}`, `msitranslate=${spec.msitranslate ? 1 : 0},power_mgmt=${spec.powerMgmt ? 1 : 0},permissive=${spec.permissive ? 1 : 0},rdm_policy=${spec.rdmPolicy}`]);
    entries.push([`${be}/state-${i}`, INITIALISING]);
  });
  entries.push([`${be}/num_devs`, String(config.pci.length)]);
  for (const [k, v] of entries) tx.write(k, v);
  return 13 + entries.length;
}

/** Removes the backend directories of `domid`'s devices (its frontends go with its home). */
export function removeDevices(tx: XenstoreOps, domid: number): void {
  for (const kind of BACKEND_KINDS) if (kind !== 'console') tx.rm(`/local/domain/0/backend/${kind}/${domid}`);
}
