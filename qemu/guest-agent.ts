// A client of the QEMU guest agent (qemu-guest-agent in the image, a virtio-serial port, a unix
// socket on the host): runs a command in the guest and returns its exit code and output. Replies come
// in order, so a connection whose reply was lost (a timeout, a guest reboot) is closed, and a new one
// starts with guest-sync to skip any reply meant for the old.

import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';

export interface GuestRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class GuestAgent {
  private readonly socket: Socket;
  private readonly replies: ((line: string) => void)[] = [];
  private broken = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    createInterface({ input: socket }).on('line', (line) => this.replies.shift()?.(line));
    socket.on('error', () => this.fail());
    socket.on('close', () => this.fail());
  }

  /** Connects and synchronises: replies to requests sent on earlier connections are skipped. */
  static async connect(path: string, timeoutMs = 5_000): Promise<GuestAgent> {
    const socket = connect(path);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const agent = new GuestAgent(socket);
    const id = Math.floor(Math.random() * 2 ** 31);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`guest agent did not answer guest-sync within ${timeoutMs} ms`)), timeoutMs);
        const wait = (line: string): void => {
          let reply: { return?: unknown } | null = null;
          try {
            reply = JSON.parse(line) as { return?: unknown };
          } catch {
            // A torn line from before the sync: skip it.
          }
          if (reply?.return === id) {
            clearTimeout(timer);
            resolve();
          } else agent.replies.unshift(wait);
        };
        agent.replies.push(wait);
        socket.write(`${JSON.stringify({ execute: 'guest-sync', arguments: { id } })}\n`);
      });
    } catch (error) {
      agent.close();
      throw error;
    }
    return agent;
  }

  /** False once a reply was lost or the socket closed: connect again. */
  alive(): boolean {
    return !this.broken;
  }

  private fail(): void {
    this.broken = true;
    this.socket.destroy();
  }

  private call(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.broken) {
        reject(new Error(`guest agent connection is closed (${command})`));
        return;
      }
      const timer = setTimeout(() => {
        // Its reply may still come and would be taken for the next one's: this connection is done.
        this.fail();
        reject(new Error(`guest agent did not answer ${command} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.replies.push((line) => {
        clearTimeout(timer);
        const reply = JSON.parse(line) as { return?: Record<string, unknown>; error?: { desc: string } };
        if (reply.error) reject(new Error(`guest agent: ${command}: ${reply.error.desc}`));
        else resolve(reply.return ?? {});
      });
      this.socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  async ping(timeoutMs: number): Promise<void> {
    await this.call('guest-ping', undefined, timeoutMs);
  }

  /** Runs `path args…` in the guest (as root) and waits for it to end. */
  async exec(path: string, args: readonly string[] = [], options: { timeoutMs?: number; pollMs?: number } = {}): Promise<GuestRun> {
    const { pid } = (await this.call('guest-exec', { path, arg: [...args], 'capture-output': true })) as { pid: number };
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    for (;;) {
      const status = (await this.call('guest-exec-status', { pid })) as { exited: boolean; exitcode?: number; signal?: number; 'out-data'?: string; 'err-data'?: string };
      if (status.exited) {
        const text = (data: string | undefined): string => Buffer.from(data ?? '', 'base64').toString('utf8');
        return { code: status.exitcode ?? 128 + (status.signal ?? 0), stdout: text(status['out-data']), stderr: text(status['err-data']) };
      }
      if (Date.now() > deadline) throw new Error(`${path} ${args.join(' ')} still running in the guest after ${options.timeoutMs ?? 120_000} ms`);
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
    }
  }

  /** Writes `data` to `path` in the guest (created or truncated), in pieces the agent's line buffer takes. */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const handle = (await this.call('guest-file-open', { path, mode: 'w' })) as unknown as number;
    try {
      for (let at = 0; at < data.length; at += 48 * 1024) {
        await this.call('guest-file-write', { handle, 'buf-b64': Buffer.from(data.subarray(at, at + 48 * 1024)).toString('base64') });
      }
    } finally {
      await this.call('guest-file-close', { handle });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
