// OS images for the VM suites: a release key, the disk of a first version and slot images of later
// ones (the base tree comes from the shared cache), and a table of step timings printed at the end.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildOs } from '../../images/os/build-os.ts';
import { generateSigningKey } from '../../images/release-key.ts';
import { missingTools } from './require-tools.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';

export const VM_TOOLS = missingTools({ 'qemu-system-x86_64': 'qemu-system-x86', mmdebstrap: 'mmdebstrap', mksquashfs: 'squashfs-tools', 'grub-mkstandalone': 'grub-efi-amd64-bin', 'mkfs.vfat': 'dosfstools', mcopy: 'mtools' });
const CACHE = process.env.SLIPWAY_IMAGE_CACHE ?? '/var/cache/slipway-images';

export class Timings {
  readonly steps: [string, number][] = [];
  readonly notes: string[] = [];

  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      this.steps.push([name, (Date.now() - started) / 1000]);
    }
  }

  print(title: string): void {
    console.log(`${title}:\n${this.steps.map(([name, s]) => `  ${name.padEnd(40)} ${s.toFixed(1)} s`).join('\n')}${this.notes.length ? `\n  ${this.notes.join('\n  ')}` : ''}`);
  }
}

export interface VmImages {
  readonly key: SigningKeyPair;
  readonly disk: string;
  /** Slot images by version, for `slipway release publish`. */
  readonly slots: Readonly<Record<string, string>>;
}

/** The disk of `first` and the slot images of `later` versions, all trusting one new release key. */
export async function buildVmImages(dir: string, first: string, later: readonly string[], timings: Timings): Promise<VmImages> {
  const key = await generateSigningKey({ name: 'vm release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
  const keyring = join(dir, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  const log = (line: string): void => void timings.notes.push(line);
  const built = await timings.time(`build ${first} disk`, () => buildOs({ version: first, keyring, out: join(dir, 'out'), cacheDir: CACHE, disk: true, log }));
  if (built.disk === null) throw new Error('no disk built');
  const slots: Record<string, string> = { [first]: built.slot };
  for (const version of later) {
    slots[version] = (await timings.time(`build ${version} slot`, () => buildOs({ version, keyring, out: join(dir, 'out'), cacheDir: CACHE, disk: false, log }))).slot;
  }
  return { key, disk: built.disk, slots };
}
