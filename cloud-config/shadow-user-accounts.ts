// UserAccounts adapter on the shadow tools (useradd, usermod, chpasswd), under a root directory:
// --prefix for a root other than /, so tests and image builds need no chroot.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CloudConfigError } from './cloud-config-errors.ts';
import { runTool } from './run-tool.ts';
import type { UserAccounts } from './user-accounts.ts';
import type { UserEntry } from './schema.ts';

export class ShadowUserAccounts implements UserAccounts {
  private readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private prefix(): string[] {
    return this.root === '/' ? [] : ['--prefix', this.root];
  }

  async create(user: UserEntry): Promise<void> {
    const args = [
      ...this.prefix(),
      user.no_create_home === true ? '--no-create-home' : '--create-home',
      ...(user.homedir === undefined ? [] : ['--home-dir', user.homedir]),
      ...(user.gecos === undefined ? [] : ['--comment', user.gecos]),
      ...(user.primary_group === undefined ? [] : ['--gid', user.primary_group]),
      ...(user.groups === undefined || user.groups.length === 0 ? [] : ['--groups', user.groups.join(',')]),
      ...(user.no_user_group === true ? ['--no-user-group'] : []),
      ...(user.system === true ? ['--system'] : []),
      ...(user.shell === undefined ? [] : ['--shell', user.shell]),
      user.name,
    ];
    const result = await runTool('useradd', args);
    if (result.code !== 0) throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `failed to create user ${user.name}: ${result.stderr || `useradd exited ${result.code}`}`);
  }

  async passwordHash(name: string): Promise<string | null> {
    const shadow = await readFile(join(this.root, 'etc', 'shadow'), 'utf8').catch(() => '');
    const row = shadow.split('\n').find((line) => line.startsWith(`${name}:`));
    const hash = row?.split(':')[1];
    return hash === undefined || hash === '' || hash === '*' || hash.startsWith('!') ? null : hash;
  }

  async setPasswordHash(name: string, hash: string): Promise<void> {
    // On a host the hash goes through chpasswd's stdin, never on a command line others can read.
    // chpasswd has no --prefix, so a root directory (image builds, tests) uses usermod.
    const result = this.root === '/' ? await runTool('chpasswd', ['--encrypted'], { stdin: `${name}:${hash}\n` }) : await runTool('usermod', [...this.prefix(), '--password', hash, name]);
    if (result.code !== 0) throw new CloudConfigError('ERR_CLOUD_CONFIG_APPLY', `failed to set the password of ${name}: ${result.stderr.replaceAll(hash, '<hidden>') || `exit ${result.code}`}`);
  }
}
