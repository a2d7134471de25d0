// requireSafePath on real files with real modes and owners under a temporary directory in /tmp (sticky,
// root's): group- or world-writable paths and directories, foreign owners, symbolic links, missing paths.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, chown, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../builders/coreos-disk.ts';
import { requireSafePath, UnsafePathError } from '../../agent/config/safe-path.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('slipway-safe-');
});
afterEach(async () => {
  await dir.remove();
});

async function refusal(path: string, uid = 0): Promise<UnsafePathError> {
  const error: unknown = await requireSafePath(path, 'keyring', uid).then(() => null, (e: unknown) => e);
  if (!(error instanceof UnsafePathError)) throw new Error(`expected an UnsafePathError for ${path}, got ${String(error)}`);
  return error;
}

describe('requireSafePath', () => {
  it('accepts a 0644 file in a 0700 directory below the sticky, world-writable /tmp', async () => {
    const tmp = await stat('/tmp');
    expect(tmp.mode & 0o1777).toBe(0o1777);
    const file = join(dir.path, 'keyring.asc');
    await writeFile(file, 'x', { mode: 0o644 });
    await expect(requireSafePath(file, 'keyring', 0)).resolves.toBeUndefined();
  });

  it('refuses a world-writable file, naming it, its mode and owner, and the fix', async () => {
    const file = join(dir.path, 'keyring.asc');
    await writeFile(file, 'x');
    await chmod(file, 0o666);
    const error = await refusal(file);
    expect(error.code).toBe('ERR_UNSAFE_PERMISSIONS');
    expect(error.path).toBe(file);
    expect(error.message).toBe(`keyring ${file} is writable by group and others (mode 0666, owner uid 0); refusing to use it: run chmod go-w ${file}`);
  });

  it('refuses a group-writable file', async () => {
    const file = join(dir.path, 'keyring.asc');
    await writeFile(file, 'x');
    await chmod(file, 0o664);
    expect((await refusal(file)).message).toContain('is writable by its group (mode 0664');
  });

  it('refuses a world-writable directory above the file, even a sticky one that is not root\'s, and a sticky leaf directory', async () => {
    const sub = join(dir.path, 'etc');
    await mkdir(sub);
    const file = join(sub, 'keyring.asc');
    await writeFile(file, 'x', { mode: 0o644 });
    await chmod(sub, 0o777);
    const error = await refusal(file);
    expect(error.path).toBe(sub);
    expect(error.message).toBe(`keyring ${file}: its directory ${sub} is writable by group and others (mode 0777, owner uid 0); refusing to use it: run chmod go-w ${sub}`);
    await chmod(sub, 0o1777);
    await chown(sub, 4242, 4242);
    expect((await refusal(file, 0)).message).toContain(`its directory ${sub} is owned by uid 4242`);
    await chown(sub, 0, 0);
    await expect(requireSafePath(file, 'keyring', 0)).resolves.toBeUndefined();
    // The trusted directory itself may not be sticky-and-open: anyone could add a file to it.
    expect((await refusal(sub)).message).toContain('(mode 1777, owner uid 0)');
  });

  it('refuses a file owned by another user, but accepts one owned by the process\'s own uid', async () => {
    const file = join(dir.path, 'keyring.asc');
    await writeFile(file, 'x', { mode: 0o644 });
    await chown(file, 4242, 4242);
    const error = await refusal(file, 0);
    expect(error.message).toBe(`keyring ${file} is owned by uid 4242, neither root nor this process (uid 0) (mode 0644, owner uid 4242); refusing to use it: run chown root ${file}`);
    await expect(requireSafePath(file, 'keyring', 4242)).resolves.toBeUndefined();
  });

  it('accepts a missing path below safe directories, and refuses one below a world-writable directory', async () => {
    await expect(requireSafePath(join(dir.path, 'state', 'update-state.json'), 'state', 0)).resolves.toBeUndefined();
    const open = join(dir.path, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    expect((await refusal(join(open, 'state'))).path).toBe(open);
  });

  it('checks both what a symbolic link points at and the directories that hold the link', async () => {
    const open = join(dir.path, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    const target = join(open, 'keyring.asc');
    await writeFile(target, 'x', { mode: 0o644 });
    const safe = join(dir.path, 'safe');
    await mkdir(safe, { mode: 0o755 });
    const link = join(safe, 'keyring.asc');
    await symlink(target, link);
    expect((await refusal(link)).path).toBe(open);

    const good = join(dir.path, 'good.asc');
    await writeFile(good, 'x', { mode: 0o644 });
    const linkInOpen = join(open, 'link.asc');
    await symlink(good, linkInOpen);
    expect((await refusal(linkInOpen)).path).toBe(open);
  });
});
