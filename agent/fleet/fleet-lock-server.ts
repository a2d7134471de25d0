// The FleetLock protocol (Zincati's client, airlock's server) answered on slipway's own etcd semaphore,
// so Fedora CoreOS hosts and slipway hosts share one reboot lock: POST /v1/pre-reboot takes a place
// for client_params.id (recursively: a holder asking again still holds it), POST /v1/steady-state
// gives it back. Places taken here are held until given back, as airlock holds them: a Zincati host
// reboots holding its place and releases it from its next boot, with nobody renewing a lease meanwhile.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AcquireResult, HolderRecord, OperatorHold } from '../lock/lock-backend.ts';

/** What the server needs of the lock of one group. */
export interface GroupLock {
  hold(record: HolderRecord, hold: OperatorHold): Promise<AcquireResult>;
  release(id: string): Promise<'released' | 'not-held'>;
}

export interface FleetLockServerDeps {
  /** The lock of a locksmith group; FleetLock's group "default" is locksmith's default group "". */
  readonly lockFor: (group: string) => GroupLock;
  readonly now: () => Date;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

/** FleetLock's group names (Zincati refuses others too). */
const GROUP = /^[a-zA-Z0-9.-]+$/;
const MAX_BODY = 64 * 1024;

class ProtocolError extends Error {
  readonly status: number;
  readonly kind: string;

  constructor(status: number, kind: string, message: string) {
    super(message);
    this.status = status;
    this.kind = kind;
  }
}

/** FleetLock's group as a locksmith group: Zincati's default group is the default semaphore. */
export function locksmithGroup(fleetLockGroup: string): string {
  return fleetLockGroup === 'default' ? '' : fleetLockGroup;
}

/** Handles one request; answers 404 (not FleetLock's) by returning false, so the caller may serve it. */
export async function handleFleetLock(request: IncomingMessage, response: ServerResponse, deps: FleetLockServerDeps): Promise<boolean> {
  const path = (request.url ?? '').split('?')[0];
  if (path !== '/v1/pre-reboot' && path !== '/v1/steady-state') return false;
  try {
    if (request.method !== 'POST') throw new ProtocolError(405, 'method_not_allowed', `${path} takes POST, not ${request.method ?? '?'}`);
    const { id, group } = await clientParams(request);
    const lock = deps.lockFor(locksmithGroup(group));
    if (path === '/v1/pre-reboot') {
      const result = await lock.hold({ id, host: `fleetlock:${id}`, since: deps.now().toISOString(), targetVersion: 'unknown' }, { kind: 'permanent' });
      if (result.kind === 'full') throw new ProtocolError(409, 'failed_lock', `semaphore of group ${group} is full (held by ${result.holders.join(', ')})`);
      deps.log({ id, group, result: result.kind }, `FleetLock pre-reboot: ${id} holds a place in group ${group}`);
    } else {
      const result = await lock.release(id);
      deps.log({ id, group, result }, `FleetLock steady-state: ${id} ${result === 'released' ? 'gave its place back' : 'held no place'} in group ${group}`);
    }
    response.writeHead(200).end();
  } catch (error) {
    const protocol = error instanceof ProtocolError ? error : new ProtocolError(500, 'failed_lock', error instanceof Error ? error.message : String(error));
    if (!(error instanceof ProtocolError)) deps.log({ err: error }, `FleetLock ${path} failed`);
    // airlock's error body: {"kind": …, "value": …}, which Zincati reads.
    response.writeHead(protocol.status, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: protocol.kind, value: protocol.message }));
  }
  return true;
}

async function clientParams(request: IncomingMessage): Promise<{ id: string; group: string }> {
  if (request.headers['fleet-lock-protocol'] !== 'true') throw new ProtocolError(400, 'invalid_client_identity', "the 'fleet-lock-protocol: true' header is missing");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ProtocolError(413, 'invalid_client_identity', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ProtocolError(400, 'invalid_client_identity', 'request body is not JSON');
  }
  const params = (body as { client_params?: { id?: unknown; group?: unknown } } | null)?.client_params;
  const id = params?.id;
  const group = params?.group;
  if (typeof id !== 'string' || id === '') throw new ProtocolError(400, 'invalid_client_identity', 'client_params.id is missing or empty');
  if (typeof group !== 'string' || !GROUP.test(group)) throw new ProtocolError(400, 'invalid_client_identity', `client_params.group must match ${GROUP.source}`);
  return { id, group };
}
