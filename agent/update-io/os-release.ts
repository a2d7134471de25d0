// The running OS's version, as os-release names it: the booted version the update policy compares
// releases against.

import { readFile } from 'node:fs/promises';
import { UpdateError } from '../update/update-errors.ts';

/** VERSION_ID of the running OS. */
export async function osReleaseVersion(paths: readonly string[]): Promise<string> {
  for (const path of paths) {
    const text = await readFile(path, 'utf8').catch(() => '');
    const match = /^VERSION_ID="?([^"\n]+)"?$/m.exec(text);
    if (match?.[1]) return match[1];
  }
  throw new UpdateError('ERR_STATE_INVALID', `cannot tell the running version: no VERSION_ID in ${paths.join(' or ')} (--current-version V tells it)`);
}

