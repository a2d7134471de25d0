// The host's file system as cloud-config writes it: every path is taken under a root directory (/
// on a host, a temp dir in tests), never through a symlink, and files are replaced atomically with
// their owner and mode set before they appear.

import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, rename, rm, symlink, chown } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { CloudConfigError } from './cloud-config-errors.ts';
import { normalizeHostPath } from './host-path.ts';

export interface Ownership {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export type Change = 'changed' | 'unchanged';

/** What may be at a path: a file (never a symlink), a directory, or a file or symlink that is replaced, never followed (unit files and masks). */
export type PathKind = 'file' | 'directory' | 'replaceable';

export class HostRoot {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** Where the host path `target` is on this machine. */
  at(target: string): string {
    return join(this.path, target);
  }

  /** Why `target` cannot be written (not an absolute path in normal form, a symlink or a non-directory on the way, a symlink there, or the wrong kind of file), or null. */
  async problemWith(target: string, kind: PathKind = 'file'): Promise<string | null> {
    // Only one spelling of a path is checked and written: "//usr" or "/etc/../usr" would slip past a check by prefix.
    const normal = normalizeHostPath(target);
    if (normal.problem !== undefined) return normal.problem;
    if (normal.path !== target) return `path "${target}" is not in normal form (${normal.path}); refusing it`;
    const parts = target.split('/').filter((p) => p !== '');
    let host = '';
    for (const [index, part] of parts.entries()) {
      host = `${host}/${part}`;
      const info = await lstat(this.at(host)).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      });
      if (info === null) return null;
      const last = index === parts.length - 1;
      if (last && kind === 'replaceable' && info.isSymbolicLink()) return null;
      if (info.isSymbolicLink()) {
        const to = await readlink(this.at(host));
        return last ? `${target} is a symlink (to ${to}); refusing to write through it` : `${target} goes through the symlink ${host} (to ${to}); refusing to follow it`;
      }
      if (!last && !info.isDirectory()) return `${target} cannot be created: ${host} is not a directory`;
      if (last && kind !== 'directory' && info.isDirectory()) return `${target} is a directory`;
      if (last && kind === 'directory' && !info.isDirectory()) return `${target} is not a directory`;
    }
    return null;
  }

  private async refuseUnsafe(target: string, kind: PathKind = 'file'): Promise<void> {
    const problem = await this.problemWith(target, kind);
    if (problem) throw new CloudConfigError('ERR_CLOUD_CONFIG_INVALID', problem);
  }

  async readText(target: string): Promise<string | null> {
    await this.refuseUnsafe(target);
    return readFile(this.at(target), 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    });
  }

  /** Creates the missing directories of `dir` (each new one with `owner`); existing ones are left as they are. */
  async makeDirs(dir: string, owner: Ownership): Promise<void> {
    await this.refuseUnsafe(dir, 'directory');
    let host = '';
    for (const part of dir.split('/').filter((p) => p !== '')) {
      host = `${host}/${part}`;
      try {
        await mkdir(this.at(host), { mode: owner.mode });
        await chown(this.at(host), owner.uid, owner.gid);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  }

  /** Replaces `target` with `bytes`: temp file, owner and mode, fsync, rename, directory fsync. Unchanged when all already match. */
  async writeFile(target: string, bytes: Uint8Array, owner: Ownership, options: { parentOwner?: Ownership; kind?: PathKind } = {}): Promise<Change> {
    await this.refuseUnsafe(target, options.kind);
    if (await this.matches(target, bytes, owner)) return 'unchanged';
    await this.makeDirs(dirname(target), options.parentOwner ?? ROOT_DIR);
    const temp = this.tempBeside(target);
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await file.writeFile(bytes);
      await file.chown(owner.uid, owner.gid);
      await file.chmod(owner.mode);
      await file.sync();
    } catch (error) {
      await file.close();
      await rm(temp, { force: true });
      throw error;
    }
    await file.close();
    await rename(temp, this.at(target));
    await syncDir(dirname(this.at(target)));
    return 'changed';
  }

  /** Makes `target` a symlink to `to` (masks: to /dev/null), replacing a file there. */
  async link(target: string, to: string): Promise<Change> {
    await this.refuseUnsafe(target, 'replaceable');
    const current = await readlink(this.at(target)).catch(() => null);
    if (current === to) return 'unchanged';
    await this.makeDirs(dirname(target), ROOT_DIR);
    const temp = this.tempBeside(target);
    await symlink(to, temp);
    await rename(temp, this.at(target));
    await syncDir(dirname(this.at(target)));
    return 'changed';
  }

  /** A fresh name in the target's directory, so the final rename stays on one filesystem. */
  private tempBeside(target: string): string {
    return join(dirname(this.at(target)), `.${basename(target)}.slipway-${randomBytes(6).toString('hex')}`);
  }

  private async matches(target: string, bytes: Uint8Array, owner: Ownership): Promise<boolean> {
    const info = await lstat(this.at(target)).catch(() => null);
    if (!info?.isFile() || (info.mode & 0o7777) !== owner.mode || info.uid !== owner.uid || info.gid !== owner.gid || info.size !== bytes.length) return false;
    return Buffer.from(bytes).equals(await readFile(this.at(target)));
  }
}

export const ROOT_DIR: Ownership = { mode: 0o755, uid: 0, gid: 0 };

async function syncDir(path: string): Promise<void> {
  const dir = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
