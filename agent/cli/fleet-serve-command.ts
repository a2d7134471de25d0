// `slipway fleet serve`: checks where to listen (loopback unless --public: the view has no login, and
// its FleetLock endpoints take and give back reboot places), then runs the fleet view until stopped.

import { isIP } from 'node:net';
import { UsageError } from './cli-error.ts';
import { FleetViewServer } from '../fleet/fleet-view-server.ts';
import type { FleetSource } from '../fleet/fleet-source.ts';
import type { ViewTimer } from '../fleet/fleet-view-server.ts';
import type { CliIo } from './io.ts';

/** What `fleet serve` needs of the process, beside the fleet's source. */
export interface FleetServeDeps {
  readonly io: CliIo;
  /** The time, and the view's timers. */
  readonly timer: ViewTimer;
  readonly random: () => number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /** Resolves when the process is asked to stop (SIGTERM). */
  readonly untilStopped: () => Promise<void>;
}

export interface ServeRequest {
  readonly listen: string;
  readonly public: boolean;
  readonly allowHosts: readonly string[];
  readonly quietAfterMs: number;
}

/** The overview is read again this often without a change in etcd, so quiet hosts age on the page. */
const REFRESH_MS = 15_000;

/** "127.0.0.1:9339", "[::1]:9339" or "localhost:9339". */
export function parseListen(text: string): { host: string; port: number } {
  const match = text.match(/^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen "${text}" is not HOST:PORT (e.g. 127.0.0.1:9339 or [::1]:9339)`);
  if (match?.[1] !== undefined && isIP(host) !== 6) throw new UsageError(`--listen "${text}": only an IPv6 address goes in brackets`);
  return { host, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || host.startsWith('::ffff:127.');
  return false;
}

export async function serveFleet(request: ServeRequest, openFleet: () => Promise<FleetSource>, deps: FleetServeDeps): Promise<number> {
  const { host, port } = parseListen(request.listen);
  if (!isLoopback(host) && !request.public) {
    throw new UsageError(`--listen ${request.listen} is not a loopback address: the fleet view has no login and its FleetLock endpoints take reboot places, so anyone who reaches it could hold the fleet's reboots; put it behind a proxy with authentication (docs/fleet.md), or say --public`);
  }
  const named = isIP(host) === 6 ? `[${host}]` : host;
  const allowedHosts = request.public ? (request.allowHosts.length > 0 ? new Set([named, ...request.allowHosts].map((h) => h.toLowerCase())) : null) : new Set(['localhost', '127.0.0.1', '[::1]', named, ...request.allowHosts].map((h) => h.toLowerCase()));
  // Asked for before the address is printed: a SIGTERM right after it must still close cleanly.
  const stopped = deps.untilStopped();
  const source = await openFleet();
  const server = new FleetViewServer({ source, timer: deps.timer, random: deps.random, quietAfterMs: request.quietAfterMs, refreshMs: REFRESH_MS, allowedHosts, log: deps.log });
  try {
    const address = await server.listen(host, port).catch((error: unknown) => {
      throw new UsageError(`cannot listen on ${request.listen}: ${error instanceof Error ? error.message : String(error)}`);
    });
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
    deps.io.stdout(`fleet view of ${source.group === '' ? 'the default group' : `group ${source.group}`} on ${url} (FleetLock at ${url}v1/pre-reboot and ${url}v1/steady-state)\n`);
    await stopped;
    return 0;
  } finally {
    await server.close();
    source.close();
  }
}
