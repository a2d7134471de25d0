// OS images for the VM suites and the demo: a release key, the disk of a first version and the slot
// images of later releases, all trusting that key (the base tree comes from the shared cache). The
// VM suites share one key and the images they have in common within a run (`shared`), so the second
// file to want the 1.0.0 disk or the 1.0.1 slot does not build it again.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildOs } from '../images/os/build-os.ts';
import { generateSigningKey } from '../images/release-key.ts';
import type { Timings } from './timings.ts';
import type { SigningKeyPair } from '../images/release-key.ts';
import type { OsBuild } from '../images/os/build-os.ts';

export const IMAGE_CACHE = process.env.SLIPWAY_IMAGE_CACHE ?? '/var/cache/slipway-images';

/** A later release: its version, and files that make it deliberately broken (tests only). */
export interface ReleaseSpec {
  readonly version: string;
  /** Names the slot image when one version is built twice (a good and a broken 1.0.2). */
  readonly label?: string;
  readonly extraFiles?: Readonly<Record<string, string>>;
}

export interface LabImages {
  readonly key: SigningKeyPair;
  readonly keyring: string;
  readonly disk: string;
  /** Slot images by label (the version unless a label was given), for publishRelease. */
  readonly slots: Readonly<Record<string, string>>;
}

const readJson = async <T>(path: string): Promise<T | null> =>
  readFile(path, 'utf8').then(
    (text) => JSON.parse(text) as T,
    () => null,
  );

/** The run's key, made by the first lab that asks (owner-only: it holds the private half). */
async function labKey(shared: string | null, dir: string): Promise<{ key: SigningKeyPair; keyring: string }> {
  const home = shared ?? dir;
  const saved = shared === null ? null : await readJson<SigningKeyPair>(join(shared, 'key.json'));
  const key = saved ?? (await generateSigningKey({ name: 'lab release', email: 'release@lab.invalid', now: new Date(Date.now() - 86_400_000) }));
  if (saved === null && shared !== null) await writeFile(join(shared, 'key.json'), JSON.stringify(key), { mode: 0o600 });
  const keyring = join(home, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  return { key, keyring };
}

/**
 * The disk of `first` and the slot image of each later release. With `shared` (a directory that lives
 * as long as the test run, so the code cannot change under it) images already built there are reused.
 */
export async function buildLabImages(dir: string, first: string, later: readonly ReleaseSpec[], timings: Timings, shared: string | null = null): Promise<LabImages> {
  if (shared !== null) await mkdir(shared, { recursive: true });
  const { key, keyring } = await labKey(shared, dir);
  const log = (line: string): void => timings.note(line);
  const build = async (name: string, spec: ReleaseSpec & { disk: boolean }): Promise<OsBuild> => {
    const id = createHash('sha256').update(JSON.stringify([spec.disk, spec.version, spec.label ?? null, spec.extraFiles ?? null])).digest('hex').slice(0, 16);
    const record = shared === null ? null : join(shared, `${id}.json`);
    const reused = record === null ? null : await readJson<OsBuild>(record);
    if (reused !== null) {
      timings.steps.push([`${name} (built by an earlier file)`, 0]);
      return reused;
    }
    // A directory of its own: two files building the same image at once each build their own copy.
    const out = shared === null ? join(dir, 'out') : await mkdtemp(join(shared, `${id}-`));
    const built = await timings.time(name, () => buildOs({ ...spec, keyring, out, cacheDir: IMAGE_CACHE, log }));
    if (record !== null) await writeFile(record, JSON.stringify(built));
    return built;
  };
  const built = await build(`build ${first} disk`, { version: first, disk: true });
  if (built.disk === null) throw new Error('no disk built');
  const slots: Record<string, string> = { [first]: built.slot };
  for (const spec of later) {
    const label = spec.label ?? spec.version;
    slots[label] = (await build(`build ${label} slot`, { ...spec, label, disk: false })).slot;
  }
  return { key, keyring, disk: built.disk, slots };
}
