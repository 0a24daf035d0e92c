import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isCoreFeature, loadFeatures, parseFeatures, resolveFeatures, type FeatureDeclaration } from '../../../core/plugin-host/features.js';
import { projectRoot } from '../../../core/plugin-host/profile.js';
import { renderSupportMarkdown } from '../../../core/plugin-host/support.js';
import { IN_TREE_PLUGINS } from '../../../plugins/catalog.js';

const ROOT = projectRoot();
const FEATURES = join(ROOT, 'config', 'features.yaml');

const small = parseFeatures(
  `features:
  HVM: { group: Modes, description: hvm, status: experimental, selects: [DM] }
  DM: { group: Dom0, description: device model, status: experimental, plugins: [qemu] }
  PVHVM: { group: Modes, description: pvhvm, status: experimental, depends_on: [HVM], selects: [PLATFORM] }
  PLATFORM: { group: Dom0, description: platform device, status: experimental }
  BLK: { group: Backends, description: "block | backend", status: missing }
  NEEDS_BLK: { group: Backends, description: needs blk, status: experimental, selects: [BLK] }
`,
  'small.yaml',
);

describe('config/features.yaml', () => {
  let decls: FeatureDeclaration[];
  beforeAll(async () => {
    decls = await loadFeatures(FEATURES);
  });

  it('declares the guest modes, Dom0 services, backends, guest drivers, VirtIO and emulated devices', () => {
    const names = decls.map((d) => d.name);
    for (const f of ['X86_64', 'HAP', 'SHADOW', 'PV_MMU', 'IOMMU', 'MSI', 'SCHED_CREDIT', 'PV', 'HVM', 'PVHVM', 'PVH', 'XENSTORE', 'XENCONSOLE', 'TOOLSTACK', 'BLKBACK', 'NETBACK', 'PCIBACK', 'XENPCI', 'BALLOON', 'BLKFRONT', 'NETFRONT', 'PCIFRONT', 'EVTCHN_DEV', 'CONSOLE', 'CONTROL', 'VIRTIO']) {
      expect(names).toContain(f);
    }
    expect(decls.some((d) => d.group === 'Emulated devices')).toBe(true);
  });

  it('only names plugins that exist in the tree, and no feature without one claims to exist unless the core provides it', () => {
    for (const d of decls) for (const p of d.plugins) expect(Object.keys(IN_TREE_PLUGINS)).toContain(p);
    expect(decls.find((d) => d.name === 'SCHED_CREDIT')).toMatchObject({ plugins: ['credit'] });
    const existing = decls.filter((d) => d.status !== 'missing');
    expect(existing.filter((d) => !isCoreFeature(d)).map((d) => d.name)).toEqual(['SCHED_CREDIT', 'PV', 'HVM', 'PVHVM', 'PVH', 'XENSTORE', 'XENCONSOLE', 'TOOLSTACK', 'DEVICE_MODEL', 'DISK_IMAGES', 'BRIDGES', 'BLKBACK', 'NETBACK', 'KERNEL_GENERIC', 'XENPCI', 'BALLOON', 'BLKFRONT', 'NETFRONT', 'EVTCHN_DEV', 'CONSOLE', 'CONTROL', 'XEN_PLATFORM_PCI', 'EMU_UART', 'EMU_RTC', 'EMU_PIT', 'EMU_ACPI_PM', 'EMU_IDE', 'EMU_NIC', 'WORKLOAD_CPU_LOOP']);
    expect(existing.every((d) => ['Core', 'Schedulers', 'Guest modes', 'Dom0 services', 'Backends', 'Guest kernels', 'Guest drivers', 'Workloads', 'Emulated devices'].includes(d.group))).toBe(true);
  });
});

describe('feature declarations', () => {
  it('refuses references to undeclared features and a missing feature that lists plugins', () => {
    expect(() => parseFeatures('features:\n  A: { group: G, description: a, status: missing, depends_on: [B], plugins: [x] }\n', 'f.yaml')).toThrow(
      'f.yaml: features.A.depends_on: unknown feature B; features.A: a missing feature lists no plugins (x would implement it)',
    );
  });

  it('refuses an unknown status and unknown keys, naming the key path', () => {
    expect(() => parseFeatures('features:\n  A: { group: G, description: a, status: done }\n', 'f.yaml')).toThrow(/f\.yaml › features\.A\.status: expected one of "supported", "experimental", "tech-preview", "missing"/);
    expect(() => parseFeatures('features:\n  A: { group: G, description: a, status: missing, depend_on: [] }\n', 'f.yaml')).toThrow(/features\.A\.depend_on: unknown key "depend_on" \(did you mean "depends_on"\?\)/);
  });
});

describe('the feature resolver', () => {
  it('enables what the requested features select, and the plugins that implement them', () => {
    expect(resolveFeatures(small, { build: 'x', features: ['HVM', 'PVHVM'], plugins: ['extra'] })).toEqual({
      build: 'x',
      features: ['DM', 'HVM', 'PLATFORM', 'PVHVM'],
      coreFeatures: ['HVM', 'PLATFORM', 'PVHVM'],
      plugins: ['extra', 'qemu'],
    });
  });

  it('refuses a feature whose dependency the build does not enable', () => {
    expect(() => resolveFeatures(small, { build: 'x', features: ['PVHVM'] })).toThrow('feature PVHVM depends on HVM, which build "x" does not enable');
  });

  it('refuses a missing feature, saying who asked for it', () => {
    expect(() => resolveFeatures(small, { build: 'x', features: ['NEEDS_BLK'], where: { file: 'config/builds/x.yaml' } })).toThrow(
      'config/builds/x.yaml: feature BLK is missing (nothing implements it yet), but NEEDS_BLK selects it',
    );
  });

  it('refuses an unknown feature with close matches', () => {
    expect(() => resolveFeatures(small, { build: 'x', features: ['HMV'] })).toThrow('unknown feature HMV (did you mean "HVM"?)');
  });
});

describe('the SUPPORT table', () => {
  it('renders one table per group with status, description and plugins, escaping pipes', () => {
    const md = renderSupportMarkdown(small);
    expect(md).toContain('## Modes\n\n| Feature | Status | Description | Plugins |\n|---|---|---|---|\n| `HVM` | Experimental | hvm | core |\n| `PVHVM` | Experimental | pvhvm (depends on HVM) | core |');
    expect(md).toContain('| `DM` | Experimental | device model | `qemu` |');
    expect(md).toContain('| `BLK` | Missing | block \\| backend | — |');
    expect(md.indexOf('## Modes')).toBeLessThan(md.indexOf('## Dom0'));
  });

  it('renders the real declarations the same way every time', async () => {
    const decls = await loadFeatures(FEATURES);
    expect(renderSupportMarkdown(decls)).toBe(renderSupportMarkdown(decls));
    expect(renderSupportMarkdown(decls)).toContain('| `SCHED_CREDIT` | Experimental |');
  });
});
