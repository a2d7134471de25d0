// Refuses a file or directory slipway trusts (keyring, settings, state) when someone other than root or
// this process could change it, as sshd's StrictModes does: the path itself and every directory up to /.

import { realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CodedError } from '../../platform/coded-error.ts';

export class UnsafePathError extends CodedError<'ERR_UNSAFE_PERMISSIONS'> {
  override name = 'UnsafePathError';
  /** The path whose mode or owner is unsafe (the trusted path itself or one of its directories). */
  readonly path: string;

  constructor(path: string, message: string) {
    super('ERR_UNSAFE_PERMISSIONS', message);
    this.path = path;
  }
}

/** The uid a trusted path may belong to besides root: the process's own (root on a host; a test's user). */
export const PROCESS_UID: number = process.getuid?.() ?? 0;

const STICKY = 0o1000;
const GROUP_OR_OTHER_WRITE = 0o022;

/**
 * Throws UnsafePathError when `path` or a directory above it is writable by group or others, or
 * owned by a uid other than root and `uid`. A missing path is not refused here (its reader says it
 * is missing); the directories that exist above it still are, since whoever can write there could
 * put one in. A directory above the path may be world-writable only when it is sticky and root's
 * (/tmp): nobody else can then rename or delete what the owner of the path made in it, while a
 * directory another user made there is refused by owner. Symbolic links are followed, and the chain
 * of the directories that hold the link is checked as well as the chain of what it points at.
 */
export async function requireSafePath(path: string, what: string, uid: number = PROCESS_UID): Promise<void> {
  const absolute = resolve(path);
  await checkChain(absolute, absolute, what, uid);
  const real = await realpath(absolute).catch(() => null);
  if (real !== null && real !== absolute) await checkChain(real, absolute, what, uid);
}

async function checkChain(path: string, named: string, what: string, uid: number): Promise<void> {
  const chain: string[] = [path];
  for (let dir = dirname(path); dir !== chain.at(-1); dir = dirname(dir)) chain.push(dir);
  // From / down, so the error names the topmost directory to fix.
  for (const [index, current] of [...chain.entries()].reverse()) {
    const info = await stat(current).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw error;
    });
    if (info === null) return;
    const leaf = index === 0;
    const subject = leaf ? `${what} ${named}` : `${what} ${named}: its directory ${current}`;
    const mode = `mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')}, owner uid ${info.uid}`;
    if (info.uid !== 0 && info.uid !== uid) {
      throw new UnsafePathError(current, `${subject} is owned by uid ${info.uid}, neither root nor this process (uid ${uid}) (${mode}); refusing to use it: run chown root ${current}`);
    }
    const writable = info.mode & GROUP_OR_OTHER_WRITE;
    const stickyRootDir = !leaf && info.isDirectory() && (info.mode & STICKY) !== 0 && info.uid === 0;
    if (writable !== 0 && !stickyRootDir) {
      const by = writable === GROUP_OR_OTHER_WRITE ? 'group and others' : writable & 0o020 ? 'its group' : 'others';
      throw new UnsafePathError(current, `${subject} is writable by ${by} (${mode}); refusing to use it: run chmod go-w ${current}`);
    }
  }
}
