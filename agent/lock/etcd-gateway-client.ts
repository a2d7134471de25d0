// A small etcd v3 client on etcd's JSON gateway over got, the agent's one HTTP stack: range, put,
// delete, transactions, leases, watches and password auth, on one or more endpoints (the next one
// when an endpoint does not answer), each call within a deadline. Every failure is a LockError
// naming the endpoints and what was asked.

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got from 'got';
import { b64, etcdError, GRPC, int64, keyValue, lines, rangeRequest, readWatchMessage, revisionOf, txnRanges, txnRequest, watchRequest } from './etcd-gateway-wire.ts';
import { LockError } from './lock-errors.ts';
import type { EtcdConnection, EtcdTls } from './etcd-connection.ts';
import type { EtcdCompare, EtcdKeyValue, EtcdOperation, EtcdWatchEvent, Reply } from './etcd-gateway-wire.ts';
import type { Got, Request, RequestError } from 'got';
import type { IncomingMessage } from 'node:http';

/** One endpoint's go at a call: settled (with etcd's answer), or a failure that moves on to the next. */
type Tried<T> = { readonly settled: T } | { readonly failure: unknown };

export interface EtcdGatewayOptions {
  readonly connection: EtcdConnection;
  readonly tls: EtcdTls | null;
  /** The deadline of each call, over every endpoint it tries, so an unreachable etcd fails instead of hanging. */
  readonly callTimeoutMs: number;
  readonly now: () => number;
}

export interface EtcdWatchOptions {
  /** The first revision to report; without it, changes from now on. */
  readonly startRevision?: string;
  readonly prefix?: boolean;
  /** Every key from the watched one up to (not including) this one. */
  readonly end?: string;
  readonly deletesOnly?: boolean;
  /** Ends the watch quietly after this long; without it, the watch runs until aborted. */
  readonly maxWaitMs?: number;
  readonly signal?: AbortSignal;
}

/** What one endpoint said: its reply, or etcd's own error (no answer at all is thrown). */
type Answer = { readonly ok: true; readonly reply: Reply } | { readonly ok: false; readonly endpoint: string; readonly code: number; readonly message: string };

function isAbort(error: unknown, name: 'TimeoutError' | 'AbortError'): boolean {
  return error instanceof Error && error.name === name;
}

/** got's whole-request timeout on a watch is the caller's maxWaitMs running out, not a failure. */
function isQuietEnd(error: unknown, options: EtcdWatchOptions): boolean {
  return options.maxWaitMs !== undefined && isAbort(error, 'TimeoutError') && (error as RequestError & { event?: string }).event === 'request';
}

export class EtcdGatewayClient {
  private readonly options: EtcdGatewayOptions;
  private readonly http: Got;
  private readonly agents: { readonly http: HttpAgent; readonly https: HttpsAgent };
  /** The endpoint to try first: the last that answered, or the one after the last that did not. */
  private current = 0;
  private token: Promise<string> | null = null;

  constructor(options: EtcdGatewayOptions) {
    const { endpoints } = options.connection;
    if (endpoints.length === 0) throw new LockError('ERR_LOCK_CONFIG_INVALID', 'no etcd endpoint given');
    for (const endpoint of endpoints) {
      if (!URL.canParse(endpoint) || !/^https?:$/.test(new URL(endpoint).protocol)) throw new LockError('ERR_LOCK_CONFIG_INVALID', `etcd endpoint ${JSON.stringify(endpoint)} is not an http:// or https:// URL`);
    }
    this.options = { ...options, connection: { ...options.connection, endpoints: endpoints.map((e) => e.replace(/\/+$/, '')) } };
    // Kept-alive sockets in a pool of this client's own, which close() ends.
    this.agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    const { tls } = options;
    this.http = got.extend({
      agent: this.agents,
      ...(tls === null ? {} : { https: { ...(tls.ca === null ? {} : { certificateAuthority: tls.ca }), ...(tls.cert === null || tls.key === null ? {} : { certificate: tls.cert, key: tls.key }) } }),
      // Requests go as `json`, never `body`: got checks a body against the global FormData, and the
      // first read of FormData loads undici (20 ms of CPU here, half a second in a VM under TCG).
      // Retries are the callers' (a read-compare-swap round re-reads); redirects are not etcd's.
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
    });
  }

  /** The clock this client's deadlines run on, for callers that pace their own calls. */
  now(): number {
    return this.options.now();
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  async range(key: string, options: { readonly prefix?: boolean; readonly end?: string; readonly revision?: string; readonly sortByCreate?: boolean } = {}): Promise<{ revision: string; kvs: EtcdKeyValue[] }> {
    const reply = await this.call('/v3/kv/range', rangeRequest(key, options), `read ${key}`);
    return { revision: revisionOf(reply), kvs: Array.isArray(reply.kvs) ? reply.kvs.map(keyValue) : [] };
  }

  async get(key: string): Promise<EtcdKeyValue | null> {
    return (await this.range(key)).kvs[0] ?? null;
  }

  async put(key: string, value: string, lease?: string): Promise<void> {
    await this.call('/v3/kv/put', { key: b64(key), value: b64(value), ...(lease === undefined ? {} : { lease }) }, `write ${key}`);
  }

  async delete(key: string): Promise<void> {
    await this.call('/v3/kv/deleterange', { key: b64(key) }, `delete ${key}`);
  }

  /**
   * Applies `success` if every compare holds, else `failure`, atomically; `succeeded` says which, and
   * `ranges` holds what the taken branch's range operations read.
   */
  async txn(compares: readonly EtcdCompare[], success: readonly EtcdOperation[], failure: readonly EtcdOperation[] = []): Promise<{ succeeded: boolean; revision: string; ranges: EtcdKeyValue[][] }> {
    const changed = compares[0]?.key ?? success.map((op) => ('put' in op ? op.put : 'delete' in op ? op.delete : op.range)).join(', ');
    const reply = await this.call('/v3/kv/txn', txnRequest(compares, success, failure), `change ${changed} in a transaction`);
    return { succeeded: reply.succeeded === true, revision: revisionOf(reply), ranges: txnRanges(reply) };
  }

  /** A lease of `ttlSeconds`; its id. */
  async grantLease(ttlSeconds: number): Promise<string> {
    return (await this.grantLeaseFor(ttlSeconds)).id;
  }

  /** A lease of `ttlSeconds`, or etcd's minimum when that is longer (etcd raises a shorter TTL): its id and the TTL granted. */
  async grantLeaseFor(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const reply = await this.call('/v3/lease/grant', { TTL: String(ttlSeconds) }, `grant a ${ttlSeconds} s lease`);
    const id = int64(reply.ID);
    if (id === '0') throw new LockError('ERR_LOCK_UNAVAILABLE', `etcd granted no lease for ${ttlSeconds} s: ${JSON.stringify(reply)}`);
    const granted = Number(int64(reply.TTL));
    return { id, ttlSeconds: granted > 0 ? granted : ttlSeconds };
  }

  /** Renews a lease to its full TTL; the seconds it now has left, 0 when etcd no longer knows it. */
  async keepAliveLease(id: string): Promise<number> {
    // The gateway's keep-alive is a stream; one request in the body gets one answer, then the stream ends.
    const reply = await this.call('/v3/lease/keepalive', { ID: id }, `renew lease ${id}`);
    const result = reply.result as Reply | undefined;
    if (result === undefined) throw new LockError('ERR_LOCK_UNAVAILABLE', `etcd did not renew lease ${id}: ${JSON.stringify(reply).slice(0, 200)}`);
    return Number(int64(result.TTL));
  }

  /** Revokes a lease, deleting the keys bound to it; a lease etcd no longer knows is already gone. */
  async revokeLease(id: string): Promise<void> {
    const what = `revoke lease ${id}`;
    const answer = await this.request('/v3/lease/revoke', { ID: id }, this.deadline(), what);
    if (!answer.ok && answer.code !== GRPC.notFound) throw this.refused(answer, what);
  }

  /**
   * Changes of `key` (or every key under it) as etcd reports them, from `startRevision` on. Ends when
   * the caller stops iterating, its signal aborts, or maxWaitMs pass; fails when the stream breaks.
   */
  async *watch(key: string, options: EtcdWatchOptions = {}): AsyncGenerator<EtcdWatchEvent, void, undefined> {
    for await (const batch of this.watchBatches(key, options)) yield* batch;
  }

  /** As watch, a message at a time: the events of one revision (one transaction) arrive together. */
  async *watchBatches(key: string, options: EtcdWatchOptions = {}): AsyncGenerator<readonly EtcdWatchEvent[], void, undefined> {
    const body = watchRequest(key, options);
    for (let reauthenticated = false; ; reauthenticated = true) {
      const opened = await this.openWatch(body, key, options);
      // maxWaitMs ran out before etcd even answered: as quiet as a watch that saw nothing.
      if (opened === null) return;
      const { stream, endpoint } = opened;
      let tokenExpired = false;
      try {
        for await (const line of lines(stream)) {
          const message = readWatchMessage(line);
          if (message.kind === 'events') {
            if (message.events.length > 0) yield message.events;
            continue;
          }
          if (message.kind === 'compacted') {
            yield [{ type: 'compacted' }];
            return;
          }
          if (message.kind === 'broken') throw new LockError('ERR_LOCK_UNAVAILABLE', `etcd at ${endpoint} broke off the watch of ${key}: ${message.reason}`);
          // A token that expired between the last call and this watch: log in again, once.
          tokenExpired = /invalid auth token/.test(message.reason) && !reauthenticated;
          if (tokenExpired) break;
          const denied = /permission denied|user name is empty|auth token/.test(message.reason);
          throw new LockError(denied ? 'ERR_LOCK_DENIED' : 'ERR_LOCK_UNAVAILABLE', `etcd at ${endpoint} refused to watch ${key}: ${message.reason}`);
        }
      } catch (error) {
        if (isAbort(error, 'AbortError') || isQuietEnd(error, options)) return;
        if (error instanceof LockError) throw error;
        throw new LockError('ERR_LOCK_UNAVAILABLE', `the watch of ${key} at ${endpoint} broke`, { cause: error });
      } finally {
        stream.destroy();
      }
      if (!tokenExpired) throw new LockError('ERR_LOCK_UNAVAILABLE', `etcd at ${endpoint} closed the watch of ${key}`);
      this.token = null;
    }
  }

  /** Resolves at the first change of `key` after `revision`, or quietly after maxWaitMs. */
  async nextChange(key: string, revision: string, options: { readonly deletesOnly: boolean; readonly maxWaitMs: number }): Promise<'changed' | 'quiet'> {
    const events = this.watch(key, { startRevision: String(BigInt(revision) + 1n), deletesOnly: options.deletesOnly, maxWaitMs: options.maxWaitMs });
    try {
      return (await events.next()).done ? 'quiet' : 'changed';
    } finally {
      await events.return();
    }
  }

  private deadline(): number {
    return this.options.now() + this.options.callTimeoutMs;
  }

  /** One call's reply, or a LockError for whatever etcd said instead. */
  private async call(path: string, body: object, what: string): Promise<Reply> {
    const answer = await this.request(path, body, this.deadline(), what);
    if (!answer.ok) throw this.refused(answer, what);
    return answer.reply;
  }

  private refused(answer: Extract<Answer, { ok: false }>, what: string): LockError {
    const { username } = this.options.connection;
    if (answer.code === GRPC.permissionDenied || answer.code === GRPC.unauthenticated) {
      return new LockError('ERR_LOCK_DENIED', `etcd at ${answer.endpoint} did not let ${username === null ? 'an anonymous client' : `user ${username}`} ${what}: ${answer.message}`);
    }
    if (answer.code === GRPC.invalidArgument && /user name is empty/.test(answer.message)) {
      return new LockError('ERR_LOCK_DENIED', `etcd at ${answer.endpoint} requires a username and password to ${what}: ${answer.message}`);
    }
    return new LockError('ERR_LOCK_UNAVAILABLE', `etcd at ${answer.endpoint} failed to ${what}: ${answer.message} (gRPC code ${answer.code})`);
  }

  /** With the auth token when there is a username; a token etcd has forgotten is replaced once. */
  private async request(path: string, body: object, deadline: number, what: string): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.authToken(deadline);
      const answer = await this.post(path, body, deadline, token, what);
      if (answer.ok || answer.code !== GRPC.unauthenticated || token === null || attempt > 0) return answer;
      this.token = null;
    }
  }

  private authToken(deadline: number): Promise<string | null> {
    const { username, password } = this.options.connection;
    if (username === null) return Promise.resolve(null);
    this.token ??= this.post('/v3/auth/authenticate', { name: username, password: password ?? '' }, deadline, null, `log in as ${username}`).then((answer) => {
      if (!answer.ok) throw new LockError('ERR_LOCK_DENIED', `etcd at ${answer.endpoint} refused user ${username}: ${answer.message}`);
      if (typeof answer.reply.token !== 'string' || answer.reply.token === '') throw new LockError('ERR_LOCK_DENIED', `etcd gave user ${username} no token: authentication is not enabled there`);
      return answer.reply.token;
    });
    // A failed attempt is not kept: the next call authenticates again.
    const pending = this.token;
    pending.catch(() => {
      if (this.token === pending) this.token = null;
    });
    return pending;
  }

  /**
   * POSTs to the endpoints in turn, from the current one, until one answers as etcd: no answer, an
   * answer that is not etcd's, or etcd unavailable there (no leader, a timeout) moves on to the next.
   */
  private async post(path: string, body: object, deadline: number, token: string | null, what: string): Promise<Answer> {
    const tried = await this.firstAnswering<Answer>(deadline, async (endpoint, remaining) => {
      try {
        const response = await this.http.post(`${endpoint}${path}`, { json: body, headers: token === null ? {} : { authorization: token }, timeout: { request: remaining } });
        if (response.statusCode === 200) return { settled: { ok: true, reply: JSON.parse(response.body) as Reply } };
        const error = etcdError(response.body);
        if (error !== null && error.code !== GRPC.unavailable && error.code !== GRPC.deadlineExceeded) return { settled: { ok: false, endpoint, ...error } };
        return {
          failure: new LockError(
            'ERR_LOCK_UNAVAILABLE',
            error === null ? `${endpoint} answered HTTP ${response.statusCode}, not as etcd: ${JSON.stringify(response.body.slice(0, 80))}` : `etcd at ${endpoint} is unavailable: ${error.message}`,
          ),
        };
      } catch (error) {
        return { failure: error };
      }
    });
    if ('settled' in tried) return tried.settled;
    const { endpoints } = this.options.connection;
    throw new LockError('ERR_LOCK_UNAVAILABLE', `cannot reach etcd at ${endpoints.join(', ')} to ${what}${tried.failure === null ? `: no time left of ${this.options.callTimeoutMs} ms` : ''}`, { cause: tried.failure });
  }

  /**
   * Runs `attempt` at each endpoint in turn, from the current one, while the deadline allows. The
   * first endpoint that settles it becomes the current one; a failure moves on to the next.
   */
  private async firstAnswering<T>(deadline: number, attempt: (endpoint: string, remaining: number) => Promise<Tried<T>>): Promise<Tried<T>> {
    const { endpoints } = this.options.connection;
    const first = this.current;
    let failure: unknown = null;
    for (let tried = 0; tried < endpoints.length; tried++) {
      const index = (first + tried) % endpoints.length;
      const remaining = deadline - this.options.now();
      if (remaining <= 0) break;
      const result = await attempt(endpoints[index] ?? '', remaining);
      if ('settled' in result) {
        this.current = index;
        return result;
      }
      failure = result.failure;
      this.current = (index + 1) % endpoints.length;
    }
    return { failure };
  }

  /** Opens a watch stream at the first endpoint that answers, within the call deadline. */
  private async openWatch(body: object, key: string, options: EtcdWatchOptions): Promise<{ stream: Request; endpoint: string } | null> {
    const deadline = this.deadline();
    const token = await this.authToken(deadline);
    const tried = await this.firstAnswering<{ stream: Request; endpoint: string } | null>(deadline, async (endpoint, remaining) => {
      // The gateway sends its headers with the watch's first message, "created": the response deadline covers both.
      const stream = this.http.stream.post(`${endpoint}/v3/watch`, {
        json: body,
        headers: token === null ? {} : { authorization: token },
        timeout: { response: remaining, ...(options.maxWaitMs === undefined ? {} : { request: options.maxWaitMs }) },
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      try {
        const response = await new Promise<IncomingMessage>((resolve, reject) => {
          stream.once('response', resolve);
          stream.once('error', reject);
        });
        if (response.statusCode === 200) return { settled: { stream, endpoint } };
        stream.destroy();
        return { failure: new LockError('ERR_LOCK_UNAVAILABLE', `${endpoint} answered HTTP ${response.statusCode} to a watch of ${key}`) };
      } catch (error) {
        stream.destroy();
        if (isAbort(error, 'AbortError') || isQuietEnd(error, options)) return { settled: null };
        return { failure: error };
      }
    });
    if ('settled' in tried) return tried.settled;
    throw new LockError('ERR_LOCK_UNAVAILABLE', `cannot reach etcd at ${this.options.connection.endpoints.join(', ')} to watch ${key}`, { cause: tried.failure });
  }
}
