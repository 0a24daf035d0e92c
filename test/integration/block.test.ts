/**
 * Issue 7's block acceptance: guests write known data through blkfront → blkback into real raw and
 * qcow2 images, and qemu-img / qemu-io read the images afterwards.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Consoles, Toolstack, type Toolstack as ToolstackApi } from '../../core/api/index.js';
import type { Consoles as ConsolesApi } from '../../core/api/console.js';
import type { Host } from '../../core/host/host.js';
import { BlockBackend } from '../../plugins/backends/blkback/index.js';
import { stampSector } from '../../plugins/guest/generic/shell/disk_cmds.js';
import { parseDiskSpec } from '../../core/config/diskspec.js';
import { renderXlBlockList, xlBlockListView } from '../../core/cli/views/index.js';
import { settle } from '../plugins/dom0/toolstack/harness.js';
import { runUntil } from '../plugins/guest/generic/helpers.js';
import { bootHost, guestConsoles, loadDefinition, type GuestConsoles } from './machine.js';

let dir: string;
let host: Host;
let toolstack: ToolstackApi;
let consoles: ConsolesApi;

let g: GuestConsoles;
const domid = (name: string): number => g.domid(name);
const log = (name: string): string => g.log(name);
const shell = (name: string, line: string, expect?: string, limit?: number): string => g.shell(name, line, expect, limit);

function guestCfg(name: string, type: string, disks: string[]): string {
  return `name = "${name}"\ntype = "${type}"\nkernel = "generic"\nmemory = 64\nvcpus = 1\non_crash = "preserve"\ndisk = [ ${disks.map((d) => `'${d}'`).join(', ')} ]\n`;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xeno-block-'));
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'pv.raw'), '4M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'pv.qcow2'), '16M']);
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'pvh.raw'), '2M']);
  writeFileSync(join(dir, 'pv.cfg'), guestCfg('pv-disk', 'pv', [`${dir}/pv.raw,raw,xvda,rw`, `format=qcow2, vdev=xvdb, target=${dir}/pv.qcow2`]));
  writeFileSync(join(dir, 'pvh.cfg'), guestCfg('pvh-disk', 'pvh', [`${dir}/pvh.raw,raw,xvda,ro`]));
  writeFileSync(
    join(dir, 'machine.yaml'),
    ['name: block-test', 'seed: 1', 'cpus: { count: 2, mhz: 3000 }', 'memory: 1GiB', 'scheduler: credit', 'dom0: { memory: 256MiB, vcpus: 1 }',
      'plugins: [credit, xenstored, xenconsoled, toolstack, pv, pvh, disk-images, blkback, generic-kernel]', 'domains: [pv.cfg, pvh.cfg]', ''].join('\n'),
  );
  ({ host } = await bootHost(await loadDefinition(join(dir, 'machine.yaml'))));
  toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  consoles = host.plugins.resolveAll(Consoles)[0]!;
  g = guestConsoles(host);
  runUntil(host, () => ['pv-disk', 'pvh-disk'].every((n) => toolstack.find(n) !== undefined && /^# /m.test(log(n)) && log(n).includes('xbd0: features')), 5e9);
}, 60_000);

afterAll(async () => {
  await host?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('blkfront and blkback on real images', () => {
  it('each disk connects: the guest sees its size and the backend features, read-only where access=ro', () => {
    expect(log('pv-disk')).toMatch(/xbd0: 4MB <Virtual Block Device> at device\/vbd\/51712/);
    expect(log('pv-disk')).toMatch(/xbd1: 16MB <Virtual Block Device> at device\/vbd\/51728/);
    expect(log('pv-disk')).toMatch(/xbd0: features: flush, write_barrier, persistent_grants, indirect_descriptors\(32\)/);
    expect(shell('pvh-disk', 'diskinfo -v xbd0')).toMatch(/Yes\s+# Read-only/);
    expect(shell('pvh-disk', 'dd if=/dev/zero of=/dev/xbd0 bs=4k count=1')).toMatch(/dd: xbd0: write at sector 0 failed: read-only disk/);
  });

  it('stamped sectors written through the ring read back from the guest and from the raw file', () => {
    expect(shell('pv-disk', 'diskcheck write xbd0 0 2048 7 -f 512')).toMatch(/wrote 2048 sectors from 0, generation 7/);
    expect(shell('pv-disk', 'diskcheck verify xbd0 0 2048 7')).toMatch(/2048 sectors from 0 hold generation 7/);
    const file = readFileSync(join(dir, 'pv.raw'));
    for (const lba of [0, 1, 511, 1024, 2047]) expect(Buffer.compare(file.subarray(lba * 512, lba * 512 + 512), Buffer.from(stampSector(lba, 7))), `sector ${lba}`).toBe(0);
    expect(file.subarray(2048 * 512).every((b) => b === 0)).toBe(true);
  });

  it('diskbench keeps a queue of reads in flight through one buffer; each read reaches the backend', () => {
    const vbd = (): number => host.plugins.resolveAll(BlockBackend)[0]!.list(domid('pv-disk'))[0]!.stats!.reads;
    const before = vbd();
    expect(shell('pv-disk', 'diskbench xbd0 -n 100 -q 16 -r')).toMatch(/diskbench: xbd0: 100 spread reads of 4096 bytes, queue depth 16: [\d.]+ s, \d+ IOPS/);
    // Spread 4 KiB reads do not merge into fewer ring requests: one each.
    expect(vbd() - before).toBe(100);
  });

  it('a pattern written to the qcow2 disk is what qemu-io reads, and qemu-img check passes', () => {
    expect(shell('pv-disk', 'diskcheck fill xbd1 128 256 0xab -f 256')).toMatch(/wrote 256 sectors from 128, byte 0xab/);
    expect(shell('pv-disk', 'dd if=/dev/xbd0 of=/dev/xbd1 bs=64k count=4 seek=64 conv=fsync')).toMatch(/4\+0 records out\r?\n262144 bytes transferred/);
    const stats = host.plugins.resolveAll(BlockBackend)[0]!.list(domid('pv-disk'));
    expect(stats.map((v) => [v.kind, v.devid, v.connected])).toEqual([['vbd', 51712, true], ['qdisk', 51728, true]]);
    expect(stats[1]!.stats!.sectorsWritten).toBe(256 + 512);
    const qio = (cmd: string) => execFileSync('qemu-io', ['-r', '-f', 'qcow2', '-c', cmd, join(dir, 'pv.qcow2')], { encoding: 'utf8' });
    expect(qio('read -P 0xab 64k 128k')).toMatch(/read 131072\/131072 bytes/);
    expect(qio('read -P 0 0 64k')).toMatch(/read 65536\/65536 bytes/);
    execFileSync('qemu-img', ['check', '-q', join(dir, 'pv.qcow2')]);
    const raw = join(dir, 'copy.raw');
    execFileSync('qemu-img', ['convert', '-O', 'raw', join(dir, 'pv.qcow2'), raw]);
    const copy = readFileSync(raw);
    expect(Buffer.compare(copy.subarray(4 << 20, (4 << 20) + 512), Buffer.from(stampSector(0, 7)))).toBe(0);
  });

  it('block-attach hot-plugs a disk the guest sees at once; block-detach takes it away and the backend lets go of the image', () => {
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'hot.qcow2'), '1M']);
    const blkback = host.plugins.resolveAll(BlockBackend)[0]!;
    const open = blkback.openImages;
    const disk = parseDiskSpec('hot.qcow2,qcow2,xvdc,rw').value!;
    expect(settle(host, toolstack.blockAttach(domid('pv-disk'), disk, dir)).result).toBe(51744);
    runUntil(host, () => log('pv-disk').includes('xbd2: features'), 2e9);
    expect(log('pv-disk')).toMatch(/xbd2: 1MB <Virtual Block Device> at device\/vbd\/51744/);
    expect(blkback.openImages).toBe(open + 1);
    const list = renderXlBlockList(xlBlockListView(host, ['pv-disk']));
    expect(list.split('\n')[0]).toBe('Vdev  BE  handle state evt-ch ring-ref BE-path                       ');
    expect(list).toMatch(new RegExp(`^51744 0   ${domid('pv-disk')}\\s+4\\s+\\d+\\s+\\d+\\s+/local/domain/0/backend/qdisk/${domid('pv-disk')}/51744`, 'm'));
    expect(shell('pv-disk', 'diskcheck fill xbd2 0 8 0x5a')).toMatch(/wrote 8 sectors/);
    expect(settle(host, toolstack.blockAttach(domid('pv-disk'), disk, dir)).error?.message).toMatch(/xvdc \(51744\) is already attached/);
    const detach = settle(host, toolstack.blockDetach(domid('pv-disk'), 'xvdc'));
    expect(detach.error).toBeUndefined();
    if (!runUntil(host, () => log('pv-disk').includes('xbd2: detached'), 2e9)) throw new Error(log('pv-disk').slice(-1500));
    expect(shell('pv-disk', 'diskinfo xbd2')).toMatch(/diskinfo: xbd2: no such disk/);
    expect(blkback.openImages).toBe(open);
    expect(xlBlockListView(host, ['pv-disk']).map((r) => r.vdev)).toEqual([51712, 51728]);
    execFileSync('qemu-img', ['check', '-q', join(dir, 'hot.qcow2')]);
    expect(execFileSync('qemu-io', ['-r', '-f', 'qcow2', '-c', 'read -P 0x5a 0 4k', join(dir, 'hot.qcow2')], { encoding: 'utf8' })).toMatch(/read 4096\/4096/);
    expect(settle(host, toolstack.blockDetach(domid('pv-disk'), 'xvdq')).error?.message).toMatch(/has no device xvdq/);
  });
});
