// OS images for the VM suites and the demo: a new release key, the disk of a first version and the
// slot images of later releases, all trusting that key (the base tree comes from the shared cache).

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildOs } from '../images/os/build-os.ts';
import { generateSigningKey } from '../images/release-key.ts';
import type { Timings } from './timings.ts';
import type { SigningKeyPair } from '../images/release-key.ts';

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

/** The disk of `first` and the slot image of each later release. */
export async function buildLabImages(dir: string, first: string, later: readonly ReleaseSpec[], timings: Timings): Promise<LabImages> {
  const key = await generateSigningKey({ name: 'lab release', email: 'release@lab.invalid', now: new Date(Date.now() - 86_400_000) });
  const keyring = join(dir, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  const log = (line: string): void => timings.note(line);
  const out = join(dir, 'out');
  const built = await timings.time(`build ${first} disk`, () => buildOs({ version: first, keyring, out, cacheDir: IMAGE_CACHE, disk: true, log }));
  if (built.disk === null) throw new Error('no disk built');
  const slots: Record<string, string> = { [first]: built.slot };
  for (const spec of later) {
    const label = spec.label ?? spec.version;
    const options = { version: spec.version, keyring, out, cacheDir: IMAGE_CACHE, disk: false, log, label, ...(spec.extraFiles ? { extraFiles: spec.extraFiles } : {}) };
    slots[label] = (await timings.time(`build ${label} slot`, () => buildOs(options))).slot;
  }
  return { key, keyring, disk: built.disk, slots };
}
