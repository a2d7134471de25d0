// How to reach etcd: one shape for the agent's settings, `slipway lock`'s flags and the lock backend,
// with locksmith's default endpoint. TLS files are paths here, read by readEtcdTls when the lock opens.

import { readFile } from 'node:fs/promises';
import { LockError } from './lock-errors.ts';

export interface EtcdConnection {
  readonly endpoints: readonly string[];
  readonly caFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly username: string | null;
  readonly password: string | null;
}

/** locksmith's and etcd's default client URL. */
export const DEFAULT_ETCD_ENDPOINT = 'http://127.0.0.1:2379';

export const DEFAULT_ETCD_CONNECTION: EtcdConnection = {
  endpoints: [DEFAULT_ETCD_ENDPOINT],
  caFile: null,
  certFile: null,
  keyFile: null,
  username: null,
  password: null,
};

/** The TLS files' contents: a CA to trust instead of the system's, a client certificate and its key. */
export interface EtcdTls {
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

/**
 * Reads the connection's TLS files now, so a wrong path is an error at once (the agent stops at start)
 * rather than at the first reboot; null when none is given.
 */
export async function readEtcdTls(connection: Pick<EtcdConnection, 'caFile' | 'certFile' | 'keyFile'>): Promise<EtcdTls | null> {
  const read = async (path: string | null, what: string): Promise<Buffer | null> => {
    if (path === null) return null;
    try {
      return await readFile(path);
    } catch (cause) {
      throw new LockError('ERR_LOCK_CONFIG_INVALID', `cannot read the etcd ${what} ${path}`, { cause });
    }
  };
  const [ca, cert, key] = await Promise.all([read(connection.caFile, 'CA file'), read(connection.certFile, 'client certificate'), read(connection.keyFile, 'client key')]);
  // One without the other would be dropped silently and the handshake fail later, far from the cause.
  if ((cert === null) !== (key === null)) {
    throw new LockError('ERR_LOCK_CONFIG_INVALID', cert === null ? `the etcd client key ${connection.keyFile ?? ''} has no client certificate` : `the etcd client certificate ${connection.certFile ?? ''} has no client key`);
  }
  return ca === null && cert === null ? null : { ca, cert, key };
}
