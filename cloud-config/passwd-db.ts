// The accounts of the host under a root directory, read from its /etc/passwd and /etc/group: who
// exists, their ids and home, and what an owner like "core:core" means there.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export interface PasswdDb {
  readonly users: ReadonlyMap<string, Account>;
  readonly groups: ReadonlyMap<string, number>;
}

export async function readPasswdDb(root: string): Promise<PasswdDb> {
  const rows = async (file: string): Promise<string[][]> =>
    (await readFile(join(root, 'etc', file), 'utf8').catch(() => ''))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(':'));
  const users = new Map<string, Account>();
  for (const [name, , uid, gid, , home] of await rows('passwd')) {
    if (name !== undefined) users.set(name, { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' });
  }
  const groups = new Map<string, number>();
  for (const [name, , gid] of await rows('group')) if (name !== undefined) groups.set(name, Number(gid));
  return { users, groups };
}

/** uid and gid of an owner "user", "user:group" or numeric ids; null when a name is unknown on this host. */
export function resolveOwner(db: PasswdDb, owner: string): { uid: number; gid: number } | null {
  const [user = '', group] = owner.split(':');
  const account = /^\d+$/.test(user) ? null : db.users.get(user);
  const uid = /^\d+$/.test(user) ? Number(user) : account?.uid;
  if (uid === undefined) return null;
  if (group === undefined) return { uid, gid: account?.gid ?? uid };
  const gid = /^\d+$/.test(group) ? Number(group) : db.groups.get(group);
  return gid === undefined ? null : { uid, gid };
}
