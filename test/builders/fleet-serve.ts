// `slipway fleet serve` as a process for tests, and FleetLock requests spelled byte for byte as Zincati
// sends them (src/fleet_lock/mod.rs: reqwest's POST with only the fleet-lock-protocol header set, the
// body serde_json::to_string_pretty of {"client_params":{"id","group"}}, no content-type).

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { ChildProcess } from 'node:child_process';

export interface FleetServe {
  /** Where the view answers, ending in "/". */
  readonly url: string;
  /** Everything the process wrote to stderr so far (its log). */
  readonly stderr: () => string;
  /** SIGTERM to this process (by its handle), and its exit code. */
  stop(): Promise<number | null>;
}

export async function startFleetServe(args: readonly string[]): Promise<FleetServe> {
  const child: ChildProcess = spawn(process.execPath, ['agent/main.ts', 'fleet', 'serve', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const found = stdout.match(/ on (http:\/\/\S+\/) /);
      if (found?.[1]) resolve(found[1]);
    });
    void exited.then((code) => reject(new Error(`slipway fleet serve exited ${code} before listening: ${stderr}`)));
  });
  return {
    url,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** One HTTP/1.1 request written as bytes; the answer is read until its head and body are complete. */
export function rawRequest(base: string, request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let text = '';
    const done = (): void => {
      socket.destroy();
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head, body: /transfer-encoding: chunked/i.test(head) ? dechunk(body) : body });
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = text.slice(0, end);
      const length = head.match(/content-length: (\d+)/i);
      const body = text.slice(end + 4);
      if (length ? Buffer.byteLength(body) >= Number(length[1]) : body.endsWith('0\r\n\r\n')) done();
    });
    socket.on('error', reject);
    socket.on('end', done);
  });
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, line), 16);
    if (!(size > 0)) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
}

/** Zincati's pre-reboot or steady-state for node `id` (its app-specific machine id, 32 lower-case hex digits). */
export function zincatiRequest(base: string, operation: 'pre-reboot' | 'steady-state', id: string, group = 'default', host = new URL(base).host): Promise<RawAnswer> {
  const body = JSON.stringify({ client_params: { id, group } }, null, 2);
  // reqwest: the headers the caller set, then its defaults (accept), then content-length and host.
  const request = `POST /v1/${operation} HTTP/1.1\r\nfleet-lock-protocol: true\r\naccept: */*\r\ncontent-length: ${Buffer.byteLength(body)}\r\nhost: ${host}\r\n\r\n${body}`;
  return rawRequest(base, request);
}
