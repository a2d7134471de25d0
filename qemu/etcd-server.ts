// Starts Debian's etcd on free loopback ports with a temporary data dir, for tests that need a real
// etcd; stop() kills it and removes the data; pause() and resume() take it away and bring it back on
// the same ports and data. Optionally it serves clients over TLS, and enableAuth() turns on etcd's
// password auth with a root user. startEtcdCluster starts several members as one cluster, any of
// which a test may kill.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { freePort } from './free-port.ts';
import { join } from 'node:path';
import got from 'got';
import { EtcdGatewayClient } from '../agent/lock/etcd-gateway-client.ts';
import type { ChildProcess } from 'node:child_process';
import type { EtcdConnection } from '../agent/lock/etcd-connection.ts';

export interface EtcdServerOptions {
  /**
   * Serve clients on https with this certificate and key; clients trust caFile. With clientCertAuth,
   * only clients with a certificate signed by caFile get in.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string; readonly clientCertAuth?: boolean };
  /** A client certificate signed by caFile: in connection(), and shown by the readiness check. */
  readonly clientCert?: { readonly certFile: string; readonly keyFile: string };
}

export interface EtcdServer {
  readonly url: string;
  /** How a client reaches this etcd: its URL, its CA and client certificate on TLS, root's password once auth is on. */
  connection(): EtcdConnection;
  /** The running etcd's process id, undefined while paused. */
  pid(): number | undefined;
  stop(): Promise<void>;
  /** Kills etcd but keeps its data, to test an outage. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Adds user root (role root) with this password and enables auth: from then on every client must log in. */
  enableAuth(rootPassword: string): Promise<void>;
}

export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const ca = options.tls ? await readFile(options.tls.caFile) : null;
  const clientCert = options.clientCert ? { cert: await readFile(options.clientCert.certFile), key: await readFile(options.clientCert.keyFile) } : null;
  let rootPassword: string | null = null;
  let child: ChildProcess | null = null;

  const connection = (): EtcdConnection => ({
    endpoints: [url],
    caFile: options.tls?.caFile ?? null,
    certFile: options.clientCert?.certFile ?? null,
    keyFile: options.clientCert?.keyFile ?? null,
    username: rootPassword === null ? null : 'root',
    password: rootPassword,
  });
  const launch = async (): Promise<void> => {
    child = spawn(
      'etcd',
      ['--name', 'test', '--data-dir', join(dataDir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`, '--log-level', 'error',
        ...(options.tls ? ['--cert-file', options.tls.certFile, '--key-file', options.tls.keyFile] : []),
        ...(options.tls?.clientCertAuth ? ['--client-cert-auth', '--trusted-ca-file', options.tls.caFile] : [])],
      { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } },
    );
    const client = new EtcdGatewayClient({ connection: connection(), tls: ca === null ? null : { ca, cert: clientCert?.cert ?? null, key: clientCert?.key ?? null }, callTimeoutMs: 2_000, now: () => Date.now() });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await client.get('health');
          return;
        } catch (error) {
          if (attempt > 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      client.close();
    }
  };
  const kill = async (): Promise<void> => {
    const running = child;
    // A child that already died (a terminal's Ctrl-C reaches etcd too) has exited or has a signalCode.
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    url,
    connection,
    pid: () => (child?.exitCode === null && child.signalCode === null ? child.pid : undefined),
    pause: kill,
    resume: launch,
    stop: async () => {
      await kill();
      await rm(dataDir, { recursive: true, force: true });
    },
    enableAuth: async (password) => {
      const post = (path: string, body: object): Promise<unknown> =>
        got
          .post(`${url}${path}`, {
            json: body,
            ...(ca === null ? {} : { https: { certificateAuthority: ca, ...(clientCert === null ? {} : { certificate: clientCert.cert, key: clientCert.key }) } }),
            retry: { limit: 0 },
            timeout: { request: 10_000 },
          })
          .json();
      await post('/v3/auth/user/add', { name: 'root', password });
      await post('/v3/auth/role/add', { name: 'root' });
      await post('/v3/auth/user/grant', { user: 'root', role: 'root' });
      await post('/v3/auth/enable', {});
      rootPassword = password;
    },
  };
}

export interface EtcdCluster {
  /** Each member's client URL, in member order. */
  readonly urls: readonly string[];
  /** Every member's URL as a client's endpoints. */
  connection(): EtcdConnection;
  /** The index of the member etcd reports as leader, asking the living members. */
  leader(): Promise<number>;
  /** SIGKILLs one member; the others go on (a new election when it led). */
  kill(member: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `size` etcd members on loopback as one cluster, each with its own temporary data dir. */
export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-etcd-cluster-'));
  const members = await Promise.all(Array.from({ length: size }, async (_, i) => ({ name: `m${i}`, url: `http://127.0.0.1:${await freePort()}`, peer: `http://127.0.0.1:${await freePort()}` })));
  const initialCluster = members.map((m) => `${m.name}=${m.peer}`).join(',');
  const children = members.map((m) =>
    spawn(
      'etcd',
      ['--name', m.name, '--data-dir', join(dataDir, m.name), '--listen-client-urls', m.url, '--advertise-client-urls', m.url, '--listen-peer-urls', m.peer,
        '--initial-advertise-peer-urls', m.peer, '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'slipway-test', '--log-level', 'error'],
      { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } },
    ),
  );
  const connection = (): EtcdConnection => ({ endpoints: members.map((m) => m.url), caFile: null, certFile: null, keyFile: null, username: null, password: null });
  const kill = async (member: number): Promise<void> => {
    const running = children[member];
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  };
  const status = async (url: string): Promise<{ member: string; leader: string } | null> => {
    try {
      const reply = await got.post(`${url}/v3/maintenance/status`, { json: {}, retry: { limit: 0 }, timeout: { request: 2_000 } }).json<{ header?: { member_id?: string }; leader?: string }>();
      return { member: reply.header?.member_id ?? '', leader: reply.leader ?? '0' };
    } catch {
      return null;
    }
  };
  const leader = async (): Promise<number> => {
    for (let attempt = 0; ; attempt++) {
      const statuses = await Promise.all(members.map((m, i) => (children[i]?.exitCode === null && children[i]?.signalCode === null ? status(m.url) : Promise.resolve(null))));
      const index = statuses.findIndex((s) => s !== null && s.leader !== '0' && s.leader === s.member);
      if (index >= 0) return index;
      if (attempt > 100) throw new Error(`no etcd member at ${members.map((m) => m.url).join(', ')} reports itself leader`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const client = new EtcdGatewayClient({ connection: connection(), tls: null, callTimeoutMs: 2_000, now: () => Date.now() });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.get('health');
        break;
      } catch (error) {
        if (attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.close();
  }
  await leader();
  return {
    urls: members.map((m) => m.url),
    connection,
    leader,
    kill,
    stop: async () => {
      await Promise.all(members.map((_, i) => kill(i)));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
