// The gateway's wire format without an etcd: prefix ranges, transaction bodies, and each kind of
// watch message (what the real-etcd suites cannot provoke at will: compaction, broken streams).

import { describe, expect, it } from 'vitest';
import { readWatchMessage, rangeRequest, txnRequest } from './etcd-gateway-wire.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('etcd gateway wire format', () => {
  it('ranges over a prefix up to the prefix with its last byte raised (of a UTF-8 sequence too), an empty one over every key', () => {
    expect(rangeRequest('a/queue/', { prefix: true, sortByCreate: true })).toEqual({ key: b64('a/queue/'), range_end: b64('a/queue0'), sort_order: 'ASCEND', sort_target: 'CREATE' });
    expect(rangeRequest('\u00ff', { prefix: true }).range_end).toBe(Buffer.from([0xc3, 0xc0]).toString('base64'));
    expect(rangeRequest('', { prefix: true }).range_end).toBe(Buffer.from([0]).toString('base64'));
    expect(rangeRequest('k', { revision: '42' })).toEqual({ key: b64('k'), revision: '42' });
  });

  it('writes compares on mod_revision and version, puts with a lease, and deletes', () => {
    expect(txnRequest([{ key: 's', target: 'mod', equals: '7' }, { key: 'a', target: 'version', equals: '0' }], [{ put: 's', value: '{}', lease: '99' }, { delete: 'r' }])).toEqual({
      compare: [
        { key: b64('s'), result: 'EQUAL', target: 'MOD', mod_revision: '7' },
        { key: b64('a'), result: 'EQUAL', target: 'VERSION', version: '0' },
      ],
      success: [{ request_put: { key: b64('s'), value: b64('{}'), lease: '99' } }, { request_delete_range: { key: b64('r') } }],
    });
  });

  it('reads events, compaction, cancellation and a broken stream', () => {
    const created = JSON.stringify({ result: { header: { revision: '4' }, created: true } });
    expect(readWatchMessage(created)).toEqual({ kind: 'events', events: [] });
    const events = JSON.stringify({ result: { events: [{ kv: { key: b64('k'), value: b64('v'), mod_revision: '5', version: '2' } }, { type: 'DELETE', kv: { key: b64('k'), mod_revision: '6' } }] } });
    expect(readWatchMessage(events)).toEqual({
      kind: 'events',
      events: [
        { type: 'put', kv: { key: 'k', value: 'v', createRevision: '0', modRevision: '5', version: '2', lease: '0' } },
        { type: 'delete', kv: { key: 'k', value: '', createRevision: '0', modRevision: '6', version: '0', lease: '0' } },
      ],
    });
    expect(readWatchMessage(JSON.stringify({ result: { canceled: true, compact_revision: '3' } }))).toEqual({ kind: 'compacted' });
    expect(readWatchMessage(JSON.stringify({ result: { canceled: true, cancel_reason: 'etcdserver: permission denied' } }))).toEqual({ kind: 'canceled', reason: 'etcdserver: permission denied' });
    expect(readWatchMessage(JSON.stringify({ error: { grpc_code: 14, message: 'transport is closing' } }))).toEqual({ kind: 'broken', reason: 'transport is closing' });
    expect(readWatchMessage('<html>')).toMatchObject({ kind: 'broken', reason: expect.stringContaining('not JSON') as unknown });
  });
});
