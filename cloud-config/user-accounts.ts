// The UserAccounts port: creating users and setting their password hashes, as the host's account
// tools do it, so /etc/passwd, /etc/shadow and /etc/group stay consistent.

import type { UserEntry } from './schema.ts';

export interface UserAccounts {
  create(user: UserEntry): Promise<void>;
  /** The current crypt(3) hash, or null for a user without one. */
  passwordHash(name: string): Promise<string | null>;
  setPasswordHash(name: string, hash: string): Promise<void>;
}
