// Starts Debian's docker-registry (the CNCF distribution registry) on a free loopback port with a
// temporary storage directory, for tests and VMs that pull container images; VMs reach it at
// 10.0.2.2:<port> through QEMU's user network.

import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { freePort } from './free-port.ts';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';

export interface OciRegistry {
  /** host:port as the host reaches it (127.0.0.1:PORT). */
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

export async function startOciRegistry(): Promise<OciRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-registry-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString('utf8')}`.slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  // The registry answers /v2/ with 200 once it listens.
  for (let attempt = 0; ; attempt++) {
    if ((await status(`http://127.0.0.1:${port}/v2/`)) === 200) break;
    if (child.exitCode !== null || attempt >= 100) {
      await stop();
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${stderr.trim() || `exit ${String(child.exitCode)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { host: `127.0.0.1:${port}`, port, stop };
}
