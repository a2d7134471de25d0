// How to reach etcd: one shape for the agent's settings, `slipway lock`'s flags and the lock backend,
// with locksmith's default endpoint. TLS files are paths here; the backend reads them when it opens.

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
