// The wire format of etcd v3's JSON gateway (3.4's /v3/... paths): the request bodies slipway sends
// and the replies it reads back. Keys and values are strings here and base64 on the wire; revisions
// and lease ids stay decimal strings (they are int64); a watch streams one JSON message per line.

import { StringDecoder } from 'node:string_decoder';

export interface EtcdKeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: string;
  readonly modRevision: string;
  /** "0" once the key is deleted (in a watch's delete event). */
  readonly version: string;
  /** "0" when the key is not bound to a lease. */
  readonly lease: string;
}

/** A condition of a transaction: the key's mod_revision or its version equals a value (version "0": absent). */
export interface EtcdCompare {
  readonly key: string;
  readonly target: 'mod' | 'version';
  readonly equals: string;
}

export type EtcdOperation =
  | { readonly put: string; readonly value: string; readonly lease?: string }
  | { readonly delete: string }
  /** Reads the keys from `range` up to (not including) `end` inside the transaction, at its revision. */
  | { readonly range: string; readonly end: string };

export type EtcdWatchEvent =
  | { readonly type: 'put' | 'delete'; readonly kv: EtcdKeyValue }
  /** etcd compacted the history the watch started from: whatever happened, it is gone; read again. */
  | { readonly type: 'compacted' };

/** One message of a watch stream, as the client acts on it. */
export type WatchMessage =
  | { readonly kind: 'events'; readonly events: readonly EtcdWatchEvent[] }
  /** etcd compacted the history the watch started from. */
  | { readonly kind: 'compacted' }
  | { readonly kind: 'canceled'; readonly reason: string }
  /** An error in place of a result, or a line that is not JSON. */
  | { readonly kind: 'broken'; readonly reason: string };

/** gRPC status codes etcd reports in the gateway's error bodies. */
export const GRPC = { invalidArgument: 3, deadlineExceeded: 4, notFound: 5, permissionDenied: 7, unavailable: 14, unauthenticated: 16 } as const;

export type Reply = Record<string, unknown>;

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (field: unknown): string => (typeof field === 'string' ? Buffer.from(field, 'base64').toString('utf8') : '');
export const int64 = (field: unknown): string => (typeof field === 'string' || typeof field === 'number' ? String(field) : '0');

/** etcd's range end for "every key starting with prefix": the prefix with its last byte raised by one. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  // An empty prefix is every key, etcd's "\0". UTF-8 has no 0xff byte, so raising the last never carries.
  if (bytes.length === 0) return Buffer.from([0]).toString('base64');
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) + 1, bytes.length - 1);
  return bytes.toString('base64');
}

export function keyValue(raw: unknown): EtcdKeyValue {
  const kv = (raw ?? {}) as Reply;
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: int64(kv.create_revision), modRevision: int64(kv.mod_revision), version: int64(kv.version), lease: int64(kv.lease) };
}

export function revisionOf(reply: Reply): string {
  return int64((reply.header as Reply | undefined)?.revision);
}

/** etcd's error in a reply body ({error, message, code}); null for a body that is not etcd's (a proxy, another server). */
export function etcdError(body: string): { code: number; message: string } | null {
  try {
    const parsed = JSON.parse(body) as Reply;
    if (typeof parsed.code === 'number') return { code: parsed.code, message: typeof parsed.message === 'string' ? parsed.message : typeof parsed.error === 'string' ? parsed.error : JSON.stringify(parsed) };
  } catch {
    // not JSON: reported by the caller as an answer that is not etcd's
  }
  return null;
}

export function rangeRequest(key: string, options: { readonly prefix?: boolean; readonly end?: string; readonly revision?: string; readonly sortByCreate?: boolean }): Reply {
  return {
    key: b64(key),
    ...(options.prefix ? { range_end: prefixEnd(key) } : {}),
    ...(options.end === undefined ? {} : { range_end: b64(options.end) }),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
    ...(options.sortByCreate ? { sort_order: 'ASCEND', sort_target: 'CREATE' } : {}),
  };
}

function txnOperation(op: EtcdOperation): Reply {
  if ('put' in op) return { request_put: { key: b64(op.put), value: b64(op.value), ...(op.lease === undefined ? {} : { lease: op.lease }) } };
  if ('delete' in op) return { request_delete_range: { key: b64(op.delete) } };
  return { request_range: rangeRequest(op.range, { end: op.end }) };
}

export function txnRequest(compares: readonly EtcdCompare[], success: readonly EtcdOperation[], failure: readonly EtcdOperation[] = []): Reply {
  return {
    compare: compares.map((c) => ({ key: b64(c.key), result: 'EQUAL', ...(c.target === 'mod' ? { target: 'MOD', mod_revision: c.equals } : { target: 'VERSION', version: c.equals }) })),
    success: success.map(txnOperation),
    ...(failure.length === 0 ? {} : { failure: failure.map(txnOperation) }),
  };
}

/** The keys each range operation of a transaction's taken branch read, in order. */
export function txnRanges(reply: Reply): EtcdKeyValue[][] {
  const responses = Array.isArray(reply.responses) ? (reply.responses as Reply[]) : [];
  return responses.flatMap((r) => {
    const range = r.response_range as Reply | undefined;
    return range === undefined ? [] : [Array.isArray(range.kvs) ? range.kvs.map(keyValue) : []];
  });
}

export function watchRequest(key: string, options: { readonly startRevision?: string; readonly prefix?: boolean; readonly end?: string; readonly deletesOnly?: boolean }): Reply {
  return {
    create_request: {
      key: b64(key),
      ...(options.prefix ? { range_end: prefixEnd(key) } : {}),
      ...(options.end === undefined ? {} : { range_end: b64(options.end) }),
      ...(options.startRevision === undefined ? {} : { start_revision: options.startRevision }),
      ...(options.deletesOnly ? { filters: ['NOPUT'] } : {}),
    },
  };
}

export function readWatchMessage(line: string): WatchMessage {
  let message: Reply;
  try {
    message = JSON.parse(line) as Reply;
  } catch {
    return { kind: 'broken', reason: `not JSON: ${JSON.stringify(line.slice(0, 80))}` };
  }
  const result = message.result as Reply | undefined;
  if (result === undefined) {
    const error = message.error as Reply | undefined;
    return { kind: 'broken', reason: typeof error?.message === 'string' ? error.message : line.slice(0, 200) };
  }
  if (result.canceled === true) {
    if (int64(result.compact_revision) !== '0') return { kind: 'compacted' };
    return { kind: 'canceled', reason: typeof result.cancel_reason === 'string' ? result.cancel_reason : 'no reason given' };
  }
  const events = Array.isArray(result.events) ? (result.events as Reply[]) : [];
  return { kind: 'events', events: events.map((event) => ({ type: event.type === 'DELETE' ? 'delete' : 'put', kv: keyValue(event.kv) })) };
}

/** The gateway's stream: one JSON message per line. */
export async function* lines(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  for await (const chunk of stream) {
    pending += decoder.write(chunk);
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const line = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (line !== '') yield line;
    }
  }
  pending += decoder.end();
  if (pending.trim() !== '') yield pending.trim();
}
