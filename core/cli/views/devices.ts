/** `xl block-list` and `xl network-list` (tools/xl/xl_block.c, xl_nic.c): each device's frontend keys as libxl reads them. */
import { Xenstore } from '../../api/xenstore.js';
import type { Host } from '../../host/host.js';
import { XlError, findDomain } from './common.js';

export interface XlBlockRow {
  vdev: number;
  backendId: number;
  handle: number;
  state: number;
  evtch: number;
  ringRef: number;
  backend: string;
}

export interface XlNicRow {
  idx: number;
  backendId: number;
  mac: string;
  state: number;
  evtch: number;
  txRef: number;
  rxRef: number;
  backend: string;
}

type Read = (path: string) => string | undefined;

function reader(host: Host): { read: Read; dir: (path: string) => readonly string[] } {
  const xs = host.plugins.resolveAll(Xenstore)[0]?.dom0;
  if (xs === undefined) throw new XlError('no xenstored is running on this host');
  return { read: (p) => xs.read(p), dir: (p) => xs.directory(p) ?? [] };
}

/** libxl's `val ? strtoul(val) : -1`. */
const num = (v: string | undefined): number => (v !== undefined && /^\d+$/.test(v) ? Number(v) : -1);

export function xlBlockListView(host: Host, domains: readonly string[]): XlBlockRow[] {
  const { read, dir } = reader(host);
  return domains.flatMap((q) => {
    const domid = findDomain(host, q);
    const fe = `/local/domain/${domid}/device/vbd`;
    return dir(fe)
      .map(Number)
      .sort((a, b) => a - b)
      .map((vdev) => ({
        vdev,
        backendId: num(read(`${fe}/${vdev}/backend-id`)),
        handle: domid,
        state: num(read(`${fe}/${vdev}/state`)),
        evtch: num(read(`${fe}/${vdev}/event-channel`)),
        ringRef: num(read(`${fe}/${vdev}/ring-ref`)),
        backend: read(`${fe}/${vdev}/backend`) ?? '',
      }));
  });
}

export function xlNetworkListView(host: Host, domains: readonly string[]): XlNicRow[] {
  const { read, dir } = reader(host);
  return domains.flatMap((q) => {
    const domid = findDomain(host, q);
    const fe = `/local/domain/${domid}/device/vif`;
    return dir(fe)
      .map(Number)
      .sort((a, b) => a - b)
      .map((idx) => ({
        idx,
        backendId: num(read(`${fe}/${idx}/backend-id`)),
        mac: read(`${fe}/${idx}/mac`) ?? '00:00:00:00:00:00',
        state: num(read(`${fe}/${idx}/state`)),
        evtch: num(read(`${fe}/${idx}/event-channel`)),
        txRef: num(read(`${fe}/${idx}/tx-ring-ref`)),
        rxRef: num(read(`${fe}/${idx}/rx-ring-ref`)),
        backend: read(`${fe}/${idx}/backend`) ?? '',
      }));
  });
}

const l = (v: string | number, w: number): string => String(v).padEnd(w);
const r = (v: string | number, w: number): string => String(v).padStart(w);

/** `%-5s %-3s %-6s %-5s %-6s %-8s %-30s`, then one `%-5d %-3d %-6d %-5d %-6d %-8d %-30s` row per disk. */
export function renderXlBlockList(rows: readonly XlBlockRow[]): string {
  const line = (c: (string | number)[]) => `${l(c[0]!, 5)} ${l(c[1]!, 3)} ${l(c[2]!, 6)} ${l(c[3]!, 5)} ${l(c[4]!, 6)} ${l(c[5]!, 8)} ${l(c[6]!, 30)}\n`;
  return line(['Vdev', 'BE', 'handle', 'state', 'evt-ch', 'ring-ref', 'BE-path']) + rows.map((x) => line([x.vdev, x.backendId, x.handle, x.state, x.evtch, x.ringRef, x.backend])).join('');
}

/** `%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s`, rows `%-3d %-2d MAC %6d %5d %6d %5d/%-11d %-30s`. */
export function renderXlNetworkList(rows: readonly XlNicRow[]): string {
  const head = `${l('Idx', 3)} ${l('BE', 2)} ${l('Mac Addr.', 17)} ${l('handle', 6)} ${l('state', 5)} ${l('evt-ch', 6)} ${r('tx-', 5)}/${l('rx-ring-ref', 5)} ${l('BE-path', 30)}\n`;
  return head + rows.map((x) => `${l(x.idx, 3)} ${l(x.backendId, 2)} ${x.mac}${r(x.idx, 6)} ${r(x.state, 5)} ${r(x.evtch, 6)} ${r(x.txRef, 5)}/${l(x.rxRef, 11)} ${l(x.backend, 30)}\n`).join('');
}
