// HostRoot takes a path only in its normal form: a caller that skipped validation still cannot reach
// /usr by "//usr", nor climb out of the root with "..".

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostRoot } from './host-root.ts';

const OWNER = { mode: 0o644, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

describe('HostRoot refuses a path not in normal form', () => {
  let base: string;
  let root: HostRoot;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'slipway-host-root-'));
    await mkdir(join(base, 'root', 'etc'), { recursive: true });
    root = new HostRoot(join(base, 'root'));
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it.each([
    ['//usr/lib/x', 'path "//usr/lib/x" is not in normal form (/usr/lib/x); refusing it'],
    ['/./usr/bin/x', 'path "/./usr/bin/x" is not in normal form (/usr/bin/x); refusing it'],
    ['/etc/../usr/lib/x', 'path "/etc/../usr/lib/x" is not in normal form (/usr/lib/x); refusing it'],
    ['/etc/x/', 'path "/etc/x/" is not in normal form (/etc/x); refusing it'],
    ['/../escaped', 'path "/../escaped" climbs above / with ".."'],
    ['etc/x', 'path "etc/x" must be absolute'],
  ])('%s: refused by every write, and nothing is created', async (path, problem) => {
    expect(await root.problemWith(path)).toBe(problem);
    await expect(root.writeFile(path, Buffer.from('x'), OWNER)).rejects.toMatchObject({ code: 'ERR_CLOUD_CONFIG_INVALID', message: problem });
    await expect(root.link(path, '/dev/null')).rejects.toMatchObject({ code: 'ERR_CLOUD_CONFIG_INVALID', message: problem });
    await expect(root.makeDirs(path, { ...OWNER, mode: 0o755 })).rejects.toMatchObject({ code: 'ERR_CLOUD_CONFIG_INVALID', message: problem });
    expect(await readdir(base)).toEqual(['root']);
    expect(await readdir(join(base, 'root'))).toEqual(['etc']);
    expect(await readdir(join(base, 'root', 'etc'))).toEqual([]);
  });

  it('writes a path in normal form', async () => {
    expect(await root.problemWith('/etc/x')).toBeNull();
    expect(await root.writeFile('/etc/x', Buffer.from('x'), OWNER)).toBe('changed');
    expect(await readdir(join(base, 'root', 'etc'))).toEqual(['x']);
  });
});
