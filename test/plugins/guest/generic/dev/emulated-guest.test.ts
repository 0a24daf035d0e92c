/**
 * Real guests on a host with the PIIX IDE and RTL8139 device models over the real image layer
 * (disk-images, raw files) and bridge. Two plain HVM guests (xen_platform_pci = 0) attach ada0 and rl0:
 * their shells' disk commands put bytes into the image files, and they ping each other through their
 * emulated NICs. A PVHVM guest's xenpci unplugs both before the native drivers look. The kernel is the
 * reference kernel built from a configuration of its own (no PV disk or NIC drivers: this host runs no
 * backends for them to wait for).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bridges, Consoles, DiskImages, HvmPlatforms, Toolstack, type Consoles as ConsolesApi } from '../../../../../core/api/index.js';
import { resolveHostDefinition } from '../../../../../core/config/host.js';
import { Host } from '../../../../../core/host/host.js';
import { MemoryLogSink } from '../../../../../core/api/log.js';
import { coreFeaturesOf } from '../../../../../core/cli/machine.js';
import { treeCatalog } from '../../../../../plugins/catalog.js';
import { stampSector } from '../../../../../plugins/guest/generic/shell/disk_cmds.js';
import { guest, settle } from '../../../dom0/toolstack/harness.js';
import { runUntil } from '../helpers.js';

const KERNEL = ['cpu HAMMER', 'ident EMU', 'machine amd64', 'options HZ=100', 'options XENHVM', 'device xenpci', 'device xentimer', 'device ata', 'device rl'].join('\n');
const SECTORS = 4096;

const runDir = mkdtempSync(join(tmpdir(), 'xeno-emu-'));
const image = (name: string): string => join(runDir, `${name}.img`);
const hostLog = new MemoryLogSink();
let host: Host;
let consoles: ConsolesApi;
const domids = new Map<string, number>();

const log = (name: string): string => consoles.log(domids.get(name)!);

/** Types `line` at guest `name`'s shell and runs until the prompt comes back. */
function shell(name: string, line: string): string {
  const before = log(name).length;
  consoles.input(domids.get(name)!, `${line}\r`);
  const ok = runUntil(host, () => /\n# $/.test(log(name).slice(before)), 20e9);
  const out = log(name).slice(before);
  if (!ok) throw new Error(`${name}: no prompt after "${line}": ${JSON.stringify(out.slice(-400))}`);
  return out;
}

beforeAll(async () => {
  for (const name of ['emu-a', 'emu-b', 'emu-pv']) writeFileSync(image(name), new Uint8Array(SECTORS * 512));
  mkdirSync(join(runDir, 'kernels'));
  writeFileSync(join(runDir, 'kernels', 'EMU'), `${KERNEL}\n`);
  const definition = {
    name: 'emu-test',
    seed: 3,
    cpus: 2,
    memory: '1024MiB',
    dom0: { memory: '64MiB', vcpus: 1 },
    plugins: [
      'credit', 'xenstored', 'xenconsoled', 'toolstack', 'hvm', 'pvhvm', 'device-model', 'uart16550', 'pit8254', 'rtc146818', 'acpi-pm', 'xen-platform',
      'disk-images', 'bridge', 'piix-ide', 'rtl8139', { name: 'generic-kernel', options: { kernconfDir: join(runDir, 'kernels') } },
    ],
    domains: [],
  };
  const r = resolveHostDefinition(definition, { file: join(runDir, 'host.yaml'), loadDomainFile: () => ({ errors: [], warnings: [] }) });
  if (!r.host) throw new Error(r.errors.map((e) => e.message).join('\n'));
  host = await Host.boot(r.host, { catalog: treeCatalog, coreFeatures: await coreFeaturesOf(treeCatalog), logSink: hostLog.sink, logLevel: 'info', runDir });
  consoles = host.plugins.resolveAll(Consoles)[0]!;
  const toolstack = host.plugins.resolveAll(Toolstack)[0]!;
  const guests: [string, number, string][] = [['emu-a', 0, '00:16:3e:00:00:0a'], ['emu-b', 0, '00:16:3e:00:00:0b'], ['emu-pv', 1, '00:16:3e:00:00:0c']];
  for (const [name, platform, mac] of guests) {
    const xl = [`name = "${name}"`, 'type = "hvm"', 'kernel = "emu"', 'memory = 64', 'vcpus = 1', `xen_platform_pci = ${platform}`, 'serial = "pty"', `disk = [ "${image(name)},raw,hda" ]`, `vif = [ "mac=${mac},bridge=xenbr0" ]`].join('\n');
    const job = settle(host, toolstack.create(guest(xl)), 10e9);
    if (job.error) throw job.error;
    domids.set(name, job.result!.domid);
  }
  for (const name of domids.keys()) {
    if (!runUntil(host, () => /boot: up in .*\n# /.test(log(name)), 20e9)) throw new Error(`${name} did not reach its shell:\n${log(name).slice(-2000)}\n${hostLog.lines('warn').slice(-20).join('\n')}`);
  }
}, 120_000);

afterAll(async () => {
  await host?.shutdown();
  rmSync(runDir, { recursive: true, force: true });
});

describe('HVM guests on the emulated IDE disk and RTL8139', () => {
  it('attach ada0 on ata0 and rl0 with the vif MAC, each NIC plugged into xenbr0 as tap<domid>.0', () => {
    expect(log('emu-a')).toContain('atapci0: <Intel PIIX3 WDMA2 controller> on pci0');
    expect(log('emu-a')).toContain('ada0: <QEMU HARDDISK 2.5+> ATA-7 device');
    expect(log('emu-a')).toContain('ada0: 2MB (4096 512 byte sectors)');
    expect(log('emu-a')).toContain('rl0: Ethernet address: 00:16:3e:00:00:0a');
    expect(log('emu-b')).toContain('rl0: link state changed to UP');
    expect(host.plugins.resolveAll(Bridges)[0]!.get('xenbr0').ports()).toEqual([`tap${domids.get('emu-a')}.0`, `tap${domids.get('emu-b')}.0`]);
  });

  // The commands run in the serial console's input thread, after the UART's end of interrupt: ATA's
  // completions (IRQ 14/15, the same priority class as IRQ 4) would otherwise wait behind the command.
  it('diskcheck and dd write through ada0 into the raw image file and flush it; the image layer has each disk open once', () => {
    expect(shell('emu-a', 'diskcheck write ada0 8 40 5 -f 40')).toContain('diskcheck: ada0: flushed through sector 48');
    const file = readFileSync(image('emu-a'));
    for (const lba of [8, 30, 47]) expect(file.subarray(lba * 512, (lba + 1) * 512).equals(Buffer.from(stampSector(lba, 5))), `sector ${lba}`).toBe(true);
    expect(shell('emu-a', 'diskcheck verify ada0 8 40 5')).toContain('diskcheck: ada0: 40 sectors from 8 hold generation 5');
    expect(shell('emu-b', 'dd if=/dev/zero of=ada0 bs=4k count=2 seek=100 conv=fsync')).toContain('8192 bytes transferred');
    expect(shell('emu-b', 'diskcheck fill ada0 900 8 171')).toContain('byte 0xab');
    expect(readFileSync(image('emu-b')).subarray(900 * 512, 908 * 512).every((b) => b === 0xab)).toBe(true);
    expect(host.plugins.resolveAll(DiskImages)[0]!.openCount).toBe(2); // emu-pv's was closed by the unplug
  });

  it('a disk read costs about a dozen VM exits to the device model, not a polling loop', () => {
    const exits = host.container.resolve(HvmPlatforms);
    const id = domids.get('emu-a')!;
    const before = exits.exits(id).forwarded;
    expect(shell('emu-a', 'dd if=ada0 of=/dev/null bs=512 count=400')).toContain('400+0 records in');
    const perRead = (exits.exits(id).forwarded - before) / 400;
    expect(perRead).toBeGreaterThanOrEqual(11);
    expect(perRead).toBeLessThan(13);
  });

  it('the two guests ping each other over xenbr0 through their emulated NICs', () => {
    shell('emu-a', 'ifconfig rl0 inet 10.0.0.1/24');
    shell('emu-b', 'ifconfig rl0 inet 10.0.0.2/24');
    expect(shell('emu-a', 'ping -c 3 10.0.0.2')).toMatch(/3 packets transmitted, 3 packets received, 0\.0% packet loss/);
    expect(shell('emu-b', 'ping -c 1 10.0.0.1')).toMatch(/64 bytes from 10\.0\.0\.1: icmp_seq=0 ttl=64/);
  });

  it('in a PVHVM guest xenpci unplugs them first: the ATA channels find no disk, rl0 is gone, the image is closed', () => {
    const text = log('emu-pv');
    expect(text).toContain('xenpci0: unplugged emulated disks and NICs');
    expect(text.indexOf('xenpci0: unplugged')).toBeLessThan(text.indexOf('atapci0:'));
    expect(text).toContain('ata0: <ATA channel> on atapci0');
    expect(text).not.toContain('ada0');
    expect(text).toMatch(/rl0: gone from device \d+\.0 \(unplugged\): not attached/);
    expect(hostLog.lines('info').join('\n')).toContain(`dom${domids.get('emu-pv')}: piix-ide: hda unplugged (ide-disks)`);
  });
});
