// The package as a user installs it: `npm pack`, then `npm ci --offline` of the tarball in a
// scratch project. The scratch project's lockfile is written from the repository's (the same
// versions and integrity hashes), so that npm takes every dependency from its cache and needs no
// network: the repository's own `npm ci` has put them there.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const run = promisify(execFile);

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  hasInstallScript?: boolean;
  dev?: boolean;
  [key: string]: unknown;
}

export interface Installed {
  /** The scratch project. */
  dir: string;
  /** Lockfile paths (`node_modules/pbf`, …) of convnet-wasm's runtime dependencies, all levels. */
  runtime: string[];
  /** Their lock entries, as installed. */
  entries: Record<string, LockEntry>;
}

/** Where `name` resolves from the package at lock path `from` (`''` is the project). */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** Lock paths of everything `deps` pulls in, resolved as npm does from `from`. */
function closure(packages: Record<string, LockEntry>, from: string, deps: Record<string, string>): string[] {
  const seen = new Set<string>();
  const visit = (at: string, names: Record<string, string>, optional: boolean) => {
    for (const name of Object.keys(names)) {
      const path = resolveIn(packages, at, name);
      if (path === undefined) {
        if (optional) continue;
        throw new Error(`the repository's package-lock.json has no entry for ${name} (needed from ${at || 'the root'})`);
      }
      if (seen.has(path)) continue;
      seen.add(path);
      visit(path, packages[path]!.dependencies ?? {}, false);
      visit(path, packages[path]!.optionalDependencies ?? {}, true);
    }
  };
  visit(from, deps, false);
  return [...seen].sort();
}

/**
 * Packs the repository and installs the tarball, plus `devDependencies` (versions from the
 * repository's lockfile), into a new directory under test-results/.
 */
export async function installPacked(devDependencies: string[] = []): Promise<Installed> {
  await mkdir(join(root, 'test-results'), { recursive: true });
  const dir = await mkdtemp(join(root, 'test-results', 'package-'));
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root });
  const tarball = stdout.trim().split('\n').at(-1)!;
  const bytes = await readFile(join(dir, tarball));
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string>; license?: string };
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };

  const runtime = closure(lock.packages, '', pkg.dependencies);
  const dev = devDependencies.length ? closure(lock.packages, '', Object.fromEntries(devDependencies.map((d) => [d, '*']))) : [];
  const devVersions = Object.fromEntries(devDependencies.map((d) => [d, lock.packages[`node_modules/${d}`]!.version]));
  const entries: Record<string, LockEntry> = {};
  // The repository's lock names no tarball URLs (npm finds them through the registry's metadata,
  // which is not cached); with the URL npm takes the tarball from its cache by its integrity.
  const { stdout: registry } = await run('npm', ['config', 'get', 'registry'], { cwd: root });
  const tarballUrl = (path: string, version: string) => {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return `${registry.trim().replace(/\/$/, '')}/${name}/-/${name.split('/').at(-1)}-${version}.tgz`;
  };
  const copy = (path: string, isDev: boolean) => {
    const entry = { ...lock.packages[path]! };
    // The flags say how the repository uses the package; the scratch project's are set below.
    delete entry.dev;
    delete entry.devOptional;
    delete entry.peer;
    const resolved = entry.resolved ?? tarballUrl(path, entry.version);
    entries[path] = { ...entry, resolved, ...(isDev ? { dev: true } : {}) };
  };
  runtime.forEach((p) => copy(p, false));
  dev.filter((p) => !runtime.includes(p)).forEach((p) => copy(p, true));

  const spec = `file:${tarball}`;
  const manifest = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [pkg.name]: spec }, devDependencies: devVersions };
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { [pkg.name]: spec }, devDependencies: devVersions },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: spec,
      integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
      license: pkg.license,
      dependencies: pkg.dependencies,
      ...(pkg.bin ? { bin: pkg.bin } : {}),
      ...(pkg.engines ? { engines: pkg.engines } : {}),
    },
    ...entries,
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, 'package-lock.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  await run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  return { dir, runtime, entries };
}
