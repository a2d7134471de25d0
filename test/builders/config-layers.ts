// Configuration files in a fresh temporary directory per test, laid out as usr/, run/ and etc/
// config.d layers plus CoreOS's update.conf and a locksmithd drop-in, and loadSettings options that
// read only there.

import { afterEach, beforeEach } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir } from './coreos-disk.ts';
import type { TempDir } from './coreos-disk.ts';
import type { LoadSettingsOptions } from '../../agent/config/load-settings.ts';

export interface ConfigLayers {
  /** Writes `files` (relative: usr/…, run/…, etc/…, update.conf, dropin/…) and returns options reading only there. */
  readonly layers: (files: Record<string, string>) => Promise<LoadSettingsOptions>;
  /** The path of a file in the temporary directory. */
  readonly at: (name: string) => string;
  readonly root: () => string;
}

export function useConfigLayers(): ConfigLayers {
  let dir: TempDir | null = null;
  beforeEach(async () => {
    dir = await tempDir('slipway-config-');
  });
  afterEach(async () => {
    await dir?.remove();
  });
  const root = (): string => {
    if (dir === null) throw new Error('the config layers exist only while a test runs');
    return dir.path;
  };
  return {
    root,
    at: (name) => join(root(), name),
    layers: async (files) => {
      for (const [name, text] of Object.entries(files)) {
        await mkdir(dirname(join(root(), name)), { recursive: true });
        await writeFile(join(root(), name), text);
      }
      return { dirs: ['usr', 'run', 'etc'].map((d) => join(root(), d)), updateConf: join(root(), 'update.conf'), locksmithDropIns: [join(root(), 'dropin', '20-cloudinit.conf')] };
    },
  };
}
