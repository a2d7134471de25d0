// The fleet view's server in-process on a real etcd, with faults injected between it and etcd: reads
// that fail push a "trouble" event and the stream recovers when etcd answers again; a watch that breaks
// is reopened (after the injected timer's backoff) and nothing written meanwhile is missed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from 'node:http';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore } from '../../agent/fleet/etcd-fleet-store.ts';
import { openEtcdFleetSource } from '../../agent/fleet/etcd-fleet-source.ts';
import { FleetViewServer } from '../../agent/fleet/fleet-view-server.ts';
import { LockError } from '../../agent/lock/lock-errors.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { hostReport } from '../builders/fleet-reports.ts';
import type { IncomingMessage } from 'node:http';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { FleetOverview } from '../../agent/fleet/fleet-overview.ts';
import type { FleetSource } from '../../agent/fleet/fleet-source.ts';

const skip = missingTools({ etcd: 'etcd-server' });

/** A server-sent event stream, read one event at a time. */
class EventReader {
  private buffer = '';
  private readonly waiting: ((event: { event: string; data: string }) => void)[] = [];
  private readonly queued: { event: string; data: string }[] = [];

  readonly response: IncomingMessage;

  constructor(response: IncomingMessage) {
    this.response = response;
    response.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event = block.match(/^event: (.*)$/m)?.[1];
        const data = block.match(/^data: (.*)$/m)?.[1];
        if (event === undefined || data === undefined) continue;
        const next = this.waiting.shift();
        if (next) next({ event, data });
        else this.queued.push({ event, data });
      }
    });
  }

  next(): Promise<{ event: string; data: string }> {
    const queued = this.queued.shift();
    return queued ? Promise.resolve(queued) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Skips events until one satisfies `wanted`. */
  async until(wanted: (e: { event: string; data: string }) => boolean): Promise<{ event: string; data: string }> {
    for (;;) {
      const e = await this.next();
      if (wanted(e)) return e;
    }
  }
}

describe.skipIf(skip !== null)(`${skip ?? ''} FleetViewServer with faults between it and etcd`, () => {
  let etcd: EtcdServer;
  let raw: EtcdGatewayClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    raw = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
  });
  afterAll(async () => {
    raw?.close();
    await etcd?.stop();
  });

  /** The real source, with reads that fail while `down` and a watch that breaks `watchBreaks` times. */
  async function faultySource(group: string, faults: { down: boolean; watchBreaks: number }): Promise<FleetSource> {
    const real = await openEtcdFleetSource({ group, connection: etcd.connection() }, () => Date.now());
    const unreachable = (): never => {
      throw new LockError('ERR_LOCK_UNAVAILABLE', 'cannot reach etcd at http://127.0.0.1:2379 (injected)');
    };
    const store = new Proxy(real.store, {
      get: (target, name, receiver) => (faults.down ? unreachable : (Reflect.get(target, name, receiver) as unknown)),
    });
    return {
      ...real,
      store,
      changes: async function* (signal) {
        for await (const change of real.changes(signal)) {
          if (faults.watchBreaks > 0) {
            faults.watchBreaks--;
            throw new LockError('ERR_LOCK_UNAVAILABLE', 'the watch broke (injected)');
          }
          yield change;
        }
      },
    };
  }

  async function start(source: FleetSource, backoffs: number[]): Promise<{ server: FleetViewServer; events: EventReader }> {
    // The timer runs backoffs at once (recording how long they would be) and never fires the periodic refresh.
    const timer = {
      now: () => new Date(),
      after: (ms: number, run: () => void) => {
        if (ms === 3_600_000) return () => undefined;
        backoffs.push(ms);
        setImmediate(run);
        return () => undefined;
      },
    };
    const server = new FleetViewServer({ source, timer, random: () => 0.5, quietAfterMs: 1_800_000, refreshMs: 3_600_000, allowedHosts: new Set(['127.0.0.1']), log: () => undefined });
    const { port } = await server.listen('127.0.0.1', 0);
    const response = await new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${port}/api/events`, resolve));
    expect(response.headers['content-type']).toBe('text/event-stream');
    return { server, events: new EventReader(response) };
  }

  it('pushes the trouble while etcd does not answer, and the overview again once it does', async () => {
    const store = new EtcdFleetStore(raw, { group: 'down', outcomeTtlSeconds: 60 });
    await store.recordHost(hostReport('a', '1.0.0', new Date().toISOString()));
    const faults = { down: true, watchBreaks: 0 };
    const { server, events } = await start(await faultySource('down', faults), []);
    try {
      const trouble = await events.until((e) => e.event === 'trouble');
      expect(JSON.parse(trouble.data)).toMatchObject({ message: expect.stringContaining('cannot read the fleet from etcd: cannot reach etcd at http://127.0.0.1:2379 (injected)') as unknown });
      faults.down = false;
      // The next change in etcd brings the fleet back.
      await store.recordHost(hostReport('b', '1.0.1', new Date().toISOString()));
      const back = await events.until((e) => e.event === 'overview' && (JSON.parse(e.data) as FleetOverview).hosts.length === 2);
      expect((JSON.parse(back.data) as FleetOverview).versions.map((v) => v.version)).toEqual(['1.0.1', '1.0.0']);
    } finally {
      await server.close();
    }
  });

  it('refuses more event streams than it keeps, and takes one again when a stream closes', async () => {
    const { server, events } = await start(await faultySource('many', { down: false, watchBreaks: 0 }), []);
    const port = (events.response.socket?.remotePort ?? 0);
    const open = (): Promise<IncomingMessage> => new Promise((resolve) => get(`http://127.0.0.1:${port}/api/events`, resolve));
    try {
      const streams = await Promise.all(Array.from({ length: 63 }, open));
      expect(streams.every((s) => s.statusCode === 200)).toBe(true);
      const refused = await open();
      expect(refused.statusCode).toBe(503);
      refused.resume();
      const closed = new Promise((resolve) => streams[0]?.socket.once('close', resolve));
      streams[0]?.destroy();
      await closed;
      // The server hears of the close on its own side; a new stream is answered once it has.
      let again = await open();
      while (again.statusCode === 503) {
        again.resume();
        again = await open();
      }
      expect(again.statusCode).toBe(200);
      for (const s of [...streams, again]) s.destroy();
    } finally {
      await server.close();
    }
  });

  it('reopens a broken watch after a backoff and misses nothing written meanwhile', async () => {
    const store = new EtcdFleetStore(raw, { group: 'breaks', outcomeTtlSeconds: 60 });
    const faults = { down: false, watchBreaks: 2 };
    const backoffs: number[] = [];
    const { server, events } = await start(await faultySource('breaks', faults), backoffs);
    try {
      await events.until((e) => e.event === 'overview');
      await store.recordHost(hostReport('late', '2.0.0', new Date().toISOString()));
      await events.until((e) => e.event === 'overview' && (JSON.parse(e.data) as FleetOverview).hosts.some((h) => h.host === 'late'));
      expect(faults.watchBreaks).toBe(0);
      // Two breaks in a row: the second waits twice as long (full jitter at 0.5 of 500 ms × 2^n).
      expect(backoffs.slice(0, 2)).toEqual([500, 1000]);
    } finally {
      await server.close();
    }
  });
});
