import { describe, expect, it } from 'vitest';
import { domainFromYaml, parseDomainXl } from '../../../core/config/domain.js';
import { loadDomainFile } from '../../../core/config/load.js';
import { parseYamlSource } from '../../../core/config/yaml-source.js';

const messages = (r: { errors: { message: string }[] }): string[] => r.errors.map((e) => e.message);

describe('parseDomainXl', () => {
  it("applies xl's defaults", () => {
    const r = parseDomainXl('name = "g"\nkernel = "generic"\n', 'g.cfg');
    expect(r.errors).toEqual([]);
    expect(r.domain).toEqual({
      source: { file: 'g.cfg' },
      name: 'g',
      type: 'pv',
      memoryBytes: 32 * 1024 * 1024,
      maxmemBytes: 32 * 1024 * 1024,
      vcpus: 1,
      maxvcpus: 1,
      cpus: { all: 'all', perVcpu: [] },
      kernel: 'generic',
      disk: [],
      vif: [],
      pci: [],
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onWatchdog: 'destroy',
      onCrash: 'destroy',
      onSoftReset: 'soft-reset',
      xenPlatformPci: true,
      serial: [],
    });
  });

  it('understands the legacy builder= and pvh= keys', () => {
    expect(parseDomainXl('name="g"\nbuilder="hvm"\n', 'g.cfg').domain?.type).toBe('hvm');
    expect(parseDomainXl('name="g"\npvh=1\nkernel="k"\n', 'g.cfg').domain?.type).toBe('pvh');
  });

  it('joins root= and extra= into the command line as xl does', () => {
    expect(parseDomainXl('name="g"\nkernel="k"\nroot="/dev/xvda1 ro"\nextra="quiet"\n', 'g.cfg').domain?.cmdline).toBe('root=/dev/xvda1 ro quiet');
  });

  it('gives vifs the default type of the guest type', () => {
    expect(parseDomainXl("name='h'\ntype='hvm'\nvif=['']\n", 'g.cfg').domain?.vif[0]?.type).toBe('ioemu');
    expect(parseDomainXl("name='p'\nkernel='k'\nvif=['']\n", 'g.cfg').domain?.vif[0]?.type).toBe('vif');
  });

  it('reads per-vCPU affinity lists', () => {
    expect(parseDomainXl('name="g"\nkernel="k"\nvcpus=2\ncpus=["2", "3-8,^5"]\n', 'g.cfg').domain?.cpus).toEqual({ all: 'all', perVcpu: [[2], [3, 4, 6, 7, 8]] });
  });

  it('reports an unknown key as an error and a known unsupported key as a warning, with their lines', () => {
    const r = parseDomainXl('name = "g"\nkernel = "k"\nmemroy = 5\nvnc = 1\n', 'g.cfg');
    expect(messages(r)).toEqual(['g.cfg:3 › memroy: unknown xl.cfg key "memroy" (did you mean "memory"?)']);
    expect(r.warnings.map((w) => w.message)).toEqual(['g.cfg:4 › vnc: "vnc" is an xl.cfg key xenoserver does not support yet; it is ignored']);
  });

  it('reports every bad value of a file at once', () => {
    const text = [
      'name = "g"',
      'memory = "1G"',
      'maxmem = 16',
      'vcpus = 4',
      'maxvcpus = 2',
      'on_crash = "restrat"',
      "disk = [ '/a.img,raw,xvda', '/b.img,raw,xvda' ]",
      "vif = 'bridge=xenbr0'",
      'uuid = "nope"',
    ].join('\n');
    expect(messages(parseDomainXl(text, 'g.cfg'))).toEqual([
      'g.cfg: a pv guest needs a kernel: kernel = "generic" boots the reference guest kernel',
      'g.cfg:2 › memory: expected a number of MiB (xl.cfg takes no units), got "1G"',
      'g.cfg:5 › maxvcpus: maxvcpus (2) must be at least vcpus (4)',
      'g.cfg:6 › on_crash: expected one of destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset, got "restrat" (did you mean "restart"?)',
      'g.cfg:7 › disk[1]: vdev xvda is already used by disk[0]',
      'g.cfg:8 › vif: expected a list: vif = [ "bridge=xenbr0" ]',
      'g.cfg:9 › uuid: expected a UUID like 3f2504e0-4f89-11d3-9a0c-0305e82c3301, got "nope"',
    ]);
  });

  it('checks maxmem against memory', () => {
    expect(messages(parseDomainXl('name="g"\nkernel="k"\nmemory=512\nmaxmem=256\n', 'g.cfg'))).toEqual(['g.cfg:4 › maxmem: maxmem (256MiB) must be at least memory (512MiB)']);
  });

  it('reports syntax errors before anything else', () => {
    expect(messages(parseDomainXl('name = "g\n', 'g.cfg'))).toEqual(['g.cfg:1:8: unterminated string: add the closing " (a string ends on the line where it starts)']);
  });

  it('names the diskspec entry that is wrong', () => {
    const r = parseDomainXl("name='g'\nkernel='k'\ndisk = [\n  '/a.img,raw,xvda',\n  '/b.img,qcow3,xvdb',\n]\n", 'g.cfg');
    expect(messages(r)).toEqual(['g.cfg:5 › disk[1]: unknown disk format "qcow3" (known: raw, qcow, qcow2, vhd, qed, empty)']);
  });
});

describe('domainFromYaml', () => {
  it('gives the same guest as the xl.cfg form', () => {
    const xl = parseDomainXl("name='g'\ntype='pvh'\nkernel='generic'\nmemory=256\nvcpus=2\nxen_platform_pci=0\ndisk=['/a.img,,xvda']\n", 'g');
    const yaml = domainFromYaml({ name: 'g', type: 'pvh', kernel: 'generic', memory: '256MiB', vcpus: 2, xen_platform_pci: false, disk: ['/a.img,,xvda'] }, { file: 'g' });
    expect(yaml.errors).toEqual([]);
    expect(yaml.domain).toEqual(xl.domain);
  });

  it('names the host file, line and key path of an inline guest', () => {
    const src = parseYamlSource('name: lab\ndomains:\n  - a.cfg\n  - name: x\n    kernel: generic\n    memory: lots\n    disk: [ "/a,raw" ]\n', 'lab.yaml');
    const r = domainFromYaml((src.value as { domains: unknown[] }).domains[1], { file: 'lab.yaml', basePath: ['domains', 1], lineOf: src.lineOf });
    expect(messages(r)).toEqual([
      'lab.yaml:6 › domains[1].memory: expected a size like 512MiB, 2G or a number of MiB, got "lots"',
      'lab.yaml:7 › domains[1].disk[0]: no vdev given (the virtual device, e.g. xvda: the third positional value or vdev=)',
    ]);
  });

  it('rejects maps as values', () => {
    expect(messages(domainFromYaml({ name: 'x', kernel: 'k', disk: [{ target: '/a' }] }, { file: 'f.yaml' }))).toEqual(['f.yaml › disk[0]: expected a string, number or list, got a map']);
  });
});

describe('the example guests in config/domains', () => {
  it.each(['pv', 'pvh', 'hvm'])('%s.cfg loads without errors or warnings', (name) => {
    const r = loadDomainFile(`config/domains/${name}.cfg`);
    expect(messages(r)).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.domain?.type).toBe(name);
  });

  it('pv.cfg writes its two disks in two forms', () => {
    const d = loadDomainFile('config/domains/pv.cfg').domain!;
    expect(d.disk.map((x) => [x.vdev, x.access])).toEqual([
      ['xvda', 'rw'],
      ['xvdb', 'ro'],
    ]);
  });
});
