// A small file replaced so that a power cut leaves the old or the new one, whole: written to a
// temporary file beside it, flushed, renamed over it, and the directory flushed.

import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileDurably(path: string, text: string, mode = 0o600): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w', mode);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
