// Starts Debian's etcd on free loopback ports with a temporary data dir, for tests that need a real
// etcd; stop() kills it and removes the data; restart() brings it back on the same ports and data.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';

export interface EtcdServer {
  readonly url: string;
  /** The running etcd's process id, undefined while paused. */
  pid(): number | undefined;
  stop(): Promise<void>;
  /** Kills etcd but keeps its data, to test an outage. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startEtcd(): Promise<EtcdServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'slipway-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    child = spawn(
      'etcd',
      ['--name', 'test', '--data-dir', join(dataDir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `test=${peer}`, '--log-level', 'error'],
      { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } },
    );
    const client = new Etcd3({ hosts: url });
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await client.get('health').string();
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
    pid: () => (child?.exitCode === null && child.signalCode === null ? child.pid : undefined),
    pause: kill,
    resume: launch,
    stop: async () => {
      await kill();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
