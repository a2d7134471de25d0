// OS images for the VM suites and the demo: a release key, the disk of a first version and the slot
// images of later releases, all trusting that key (the base tree comes from the shared cache). The
// VM suites share one key and the images they have in common within a run (`shared`): the first file
// to want the 1.0.0 disk or the 1.0.1 slot builds it, and another that wants it meanwhile (two files
// run side by side) waits for it instead of building its own copy.

import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
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

/** How long a lab waits for another to finish a shared image: a first build may include the base tree. */
const SHARED_WAIT_MS = 30 * 60_000;

/**
 * The value saved as `name`.json in the run's shared directory. The first lab to ask makes it, holding
 * `name`.lock (created exclusively) until the value is written whole; the others wait for the file. If
 * the maker fails, the lock goes and the next lab to look makes it itself. Owner-only: the key holds
 * its private half.
 */
async function sharedValue<T>(shared: string, name: string, make: () => Promise<T>): Promise<{ value: T; made: boolean }> {
  const path = join(shared, `${name}.json`);
  const lockPath = join(shared, `${name}.lock`);
  for (const deadline = Date.now() + SHARED_WAIT_MS; ; ) {
    const saved = await readJson<T>(path);
    if (saved !== null) return { value: saved, made: false };
    const lock = await open(lockPath, 'wx').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw error;
    });
    if (lock !== null) {
      try {
        // Made between the look above and the lock: another lab finished and let go of the lock.
        const madeMeanwhile = await readJson<T>(path);
        if (madeMeanwhile !== null) return { value: madeMeanwhile, made: false };
        const value = await make();
        await writeFile(`${path}.partial`, JSON.stringify(value), { mode: 0o600 });
        await rename(`${path}.partial`, path);
        return { value, made: true };
      } finally {
        await lock.close();
        await rm(lockPath, { force: true });
      }
    }
    if (Date.now() > deadline) throw new Error(`waited ${SHARED_WAIT_MS / 60_000} min for another VM file to make ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The run's key, made by the first lab that asks. */
async function labKey(shared: string | null, dir: string): Promise<{ key: SigningKeyPair; keyring: string }> {
  const home = shared ?? dir;
  const generate = (): Promise<SigningKeyPair> => generateSigningKey({ name: 'lab release', email: 'release@lab.invalid', now: new Date(Date.now() - 86_400_000) });
  const key = shared === null ? await generate() : (await sharedValue(shared, 'key', generate)).value;
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
    if (shared === null) return timings.time(name, () => buildOs({ ...spec, keyring, out: join(dir, 'out'), cacheDir: IMAGE_CACHE, log }));
    const id = createHash('sha256').update(JSON.stringify([spec.disk, spec.version, spec.label ?? null, spec.extraFiles ?? null])).digest('hex').slice(0, 16);
    const started = Date.now();
    const { value, made } = await sharedValue(shared, id, async () => {
      const out = await mkdtemp(join(shared, `${id}-`));
      return timings.time(name, () => buildOs({ ...spec, keyring, out, cacheDir: IMAGE_CACHE, log }));
    });
    if (!made) timings.steps.push([`${name} (built by another file)`, (Date.now() - started) / 1000]);
    return value;
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
