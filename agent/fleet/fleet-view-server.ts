// `slipway fleet serve`: the fleet view's HTTP server. GET / is the page, GET /api/fleet the overview
// as JSON, GET /api/events the overview pushed as server-sent events whenever etcd's keys of the
// group change (and every refresh interval, so quiet hosts age); POST /v1/pre-reboot and
// /v1/steady-state answer FleetLock on the same semaphores. Nothing else changes anything.

import { createServer } from 'node:http';
import { causeChain } from '../../platform/coded-error.ts';
import { jitteredBackoff } from '../../platform/backoff.ts';
import { handleFleetLock } from './fleet-lock-server.ts';
import { readOverview } from './fleet-source.ts';
import { FLEET_VIEW_CSP, FLEET_VIEW_PAGE } from './fleet-view-page.ts';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FleetSource } from './fleet-source.ts';

/** The time and a timer that can be cancelled, so a closed server leaves nothing pending. */
export interface ViewTimer {
  now(): Date;
  /** Runs `run` after `ms`; the function returned cancels it. */
  after(ms: number, run: () => void): () => void;
}

export interface FleetViewOptions {
  readonly source: FleetSource;
  readonly timer: ViewTimer;
  readonly random: () => number;
  readonly quietAfterMs: number;
  /** How often the overview is read again when etcd reports no change. */
  readonly refreshMs: number;
  /**
   * Host header names the server answers (without port), against DNS rebinding: a page elsewhere that
   * makes its name resolve to 127.0.0.1 cannot read the fleet or take reboot places. Null: any.
   */
  readonly allowedHosts: ReadonlySet<string> | null;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

/** Event streams kept open at once; more are refused (503) until one closes: each holds a socket and a buffer. */
export const MAX_STREAMS = 64;
/** A stream whose reader lets this much pile up unread is closed (its browser reconnects and starts afresh). */
const MAX_UNREAD_BYTES = 4 * 1024 * 1024;

const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };

/** The Host header's name without its port ("[::1]:9339" -> "[::1]"). */
function hostName(header: string | undefined): string {
  if (header === undefined) return '';
  const bracket = header.match(/^\[[^\]]*\]/);
  return (bracket ? bracket[0] : header.split(':')[0] ?? '').toLowerCase();
}

export class FleetViewServer {
  private readonly options: FleetViewOptions;
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private readonly watch = new AbortController();
  private closed = false;
  /** The last event sent (the overview, or the trouble reading it), for streams that join. */
  private last: { event: 'overview' | 'trouble'; data: string } | null = null;
  private reading: Promise<void> | null = null;
  private again = false;
  private readonly waits = new Set<() => void>();

  constructor(options: FleetViewOptions) {
    this.options = options;
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        options.log({ err: error }, `fleet view: ${request.method ?? '?'} ${request.url ?? '?'} failed`);
        if (!response.headersSent) response.writeHead(500, SECURITY_HEADERS);
        response.end();
      });
    });
  }

  /** Listens, starts following etcd, and resolves with the address it answers at. */
  async listen(host: string, port: number): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    void this.follow();
    void this.tick();
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch.abort();
    for (const end of this.waits) end();
    for (const stream of this.streams) stream.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { allowedHosts } = this.options;
    if (allowedHosts !== null && !allowedHosts.has(hostName(request.headers.host))) {
      response.writeHead(421, { ...SECURITY_HEADERS, 'content-type': 'text/plain' }).end(`this server does not answer for host ${JSON.stringify(request.headers.host ?? '')}\n`);
      return;
    }
    const { source, timer, log } = this.options;
    if (await handleFleetLock(request, response, { lockFor: (group) => source.lockFor(group), now: () => timer.now(), log })) return;
    const path = (request.url ?? '/').split('?')[0];
    // Browsers ask for it unbidden: no icon, and no 404 in their console.
    if (path === '/favicon.ico') {
      response.writeHead(204, SECURITY_HEADERS).end();
      return;
    }
    if (path !== '/' && path !== '/api/fleet' && path !== '/api/events') {
      response.writeHead(404, { ...SECURITY_HEADERS, 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('the fleet view is read-only\n');
      return;
    }
    if (path === '/') {
      response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': FLEET_VIEW_CSP, 'x-frame-options': 'DENY' }).end(FLEET_VIEW_PAGE);
    } else if (path === '/api/fleet') {
      await this.answerOverview(response);
    } else {
      this.openStream(request, response);
    }
  }

  private async answerOverview(response: ServerResponse): Promise<void> {
    try {
      const overview = await readOverview(this.options.source, () => this.options.timer.now(), this.options.quietAfterMs);
      response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(`${JSON.stringify(overview, null, 2)}\n`);
    } catch (error) {
      response.writeHead(503, { ...SECURITY_HEADERS, 'content-type': 'application/json' }).end(`${JSON.stringify({ error: causeChain(error) })}\n`);
    }
  }

  private openStream(request: IncomingMessage, response: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) {
      response.writeHead(503, { ...SECURITY_HEADERS, 'retry-after': '10', 'content-type': 'text/plain' }).end(`over ${MAX_STREAMS} event streams are open\n`);
      return;
    }
    // X-Accel-Buffering: nginx would otherwise hold the events back until its buffer fills.
    response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    response.write('retry: 2000\n\n');
    this.streams.add(response);
    request.on('close', () => this.streams.delete(response));
    if (this.last !== null) response.write(frame(this.last.event, this.last.data));
    else this.refresh();
  }

  private send(event: 'overview' | 'trouble', data: string): void {
    this.last = { event, data };
    for (const stream of this.streams) {
      if (stream.writableLength > MAX_UNREAD_BYTES) {
        this.streams.delete(stream);
        stream.destroy();
      } else {
        stream.write(frame(event, data));
      }
    }
  }

  /** Reads the overview and pushes it; a refresh asked for while one runs reads once more after it. */
  refresh(): void {
    if (this.reading !== null) {
      this.again = true;
      return;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          const overview = await readOverview(this.options.source, () => this.options.timer.now(), this.options.quietAfterMs);
          this.send('overview', JSON.stringify(overview));
        } catch (error) {
          this.options.log({ err: error }, 'fleet view: cannot read the fleet from etcd');
          this.send('trouble', JSON.stringify({ message: `cannot read the fleet from etcd: ${causeChain(error)}`, at: this.options.timer.now().toISOString() }));
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.reading = null;
    });
  }

  /** Follows etcd's watch; when it breaks, reads again and watches anew after a jittered backoff. */
  private async follow(): Promise<void> {
    for (let failures = 0; !this.closed; ) {
      try {
        const changes = this.options.source.changes(this.watch.signal)[Symbol.asyncIterator]();
        while (!(await changes.next()).done) {
          failures = 0;
          this.refresh();
        }
      } catch (error) {
        if (this.closed) return;
        this.options.log({ err: error }, 'fleet view: the watch on etcd broke');
        failures++;
      }
      if (this.closed) return;
      await this.wait(jitteredBackoff(Math.min(failures, 6), 500, 30_000, this.options.random));
      if (!this.closed) this.refresh();
    }
  }

  private async tick(): Promise<void> {
    while (!this.closed) {
      await this.wait(this.options.refreshMs);
      if (!this.closed) this.refresh();
    }
  }

  /** Resolves after `ms`, or at once when the server closes. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = (): void => {
        cancel();
        this.waits.delete(end);
        resolve();
      };
      const cancel = this.options.timer.after(ms, end);
      this.waits.add(end);
    });
  }
}

function frame(event: string, data: string): string {
  return `event: ${event}\ndata: ${data}\n\n`;
}
