import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { featuresFile, listBuildProfiles, loadBuildProfile, projectRoot, resolveBuild } from '../../core/plugin-host/profile.js';
import { isCoreFeature, loadFeatures } from '../../core/plugin-host/features.js';
import { treeCatalog } from '../../plugins/catalog.js';

const ROOT = projectRoot();
const TREE = treeCatalog.names();

describe('build profiles', () => {
  const temps: string[] = [];
  afterEach(async () => {
    await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A project root holding the real features.yaml and one profile file. */
  async function rootWith(profile: string, text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'xeno-profile-'));
    temps.push(dir);
    await mkdir(join(dir, 'config', 'builds'), { recursive: true });
    await cp(featuresFile(ROOT), featuresFile(dir));
    await writeFile(join(dir, 'config', 'builds', `${profile}.yaml`), text);
    return dir;
  }

  it('has a default and a minimal profile', async () => {
    expect(await listBuildProfiles(ROOT)).toEqual(expect.arrayContaining(['default', 'minimal']));
  });

  it('default enables every feature that exists and every in-tree plugin', async () => {
    const build = await resolveBuild('default', ROOT, TREE);
    const existing = (await loadFeatures(featuresFile(ROOT))).filter((d) => d.status !== 'missing');
    expect(build.features).toEqual(existing.map((d) => d.name).sort());
    expect(build.plugins).toEqual(TREE);
  });

  it('minimal is the core and the credit scheduler only', async () => {
    const build = await resolveBuild('minimal', ROOT, TREE);
    const decls = await loadFeatures(featuresFile(ROOT));
    expect(build.plugins).toEqual(['credit']);
    expect(build.features.filter((f) => !isCoreFeature(decls.find((d) => d.name === f) as (typeof decls)[number]))).toEqual(['SCHED_CREDIT']);
  });

  it('names the profiles that exist when asked for one that does not', async () => {
    await expect(loadBuildProfile('minimall', ROOT)).rejects.toThrow(/config\/builds\/minimall\.yaml: no build profile "minimall" \(did you mean "minimal"\?\) \(profiles: .*default.*minimal/);
  });

  it('refuses a profile with a feature whose dependency it does not enable', async () => {
    const root = await rootWith('lean', 'name: lean\ndescription: too lean\nfeatures: [MSI]\n');
    await expect(resolveBuild('lean', root, TREE)).rejects.toThrow('config/builds/lean.yaml: feature MSI depends on APIC, which build "lean" does not enable');
  });

  it('refuses a profile asking for a feature nothing implements yet', async () => {
    const root = await rootWith('wish', 'name: wish\ndescription: wishful\nfeatures: [X86_64, EVENT_CHANNELS, GRANT_TABLES, XENSTORE, PCIBACK]\n');
    await expect(resolveBuild('wish', root, TREE)).rejects.toThrow('feature PCIBACK is missing (nothing implements it yet), but build "wish" asks for it');
  });

  it('refuses an unknown plugin, an unknown key and a name that is not the file\'s', async () => {
    const typo = await rootWith('typo', 'name: typo\ndescription: typo\nplugins: [credti]\n');
    await expect(resolveBuild('typo', typo, TREE)).rejects.toThrow('config/builds/typo.yaml › plugins: unknown plugin "credti" (did you mean "credit"?)');
    const key = await rootWith('key', 'name: key\ndescription: key\nfeature: []\n');
    await expect(loadBuildProfile('key', key)).rejects.toThrow(/config\/builds\/key\.yaml › feature: unknown key "feature" \(did you mean "features"\?\)/);
    const other = await rootWith('other', 'name: another\ndescription: misnamed\n');
    await expect(loadBuildProfile('other', other)).rejects.toThrow('the profile in other.yaml is named "another"; name it "other"');
  });
});
