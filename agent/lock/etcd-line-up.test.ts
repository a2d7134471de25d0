// LineUp: the queue in arrival order (create_revision, not key order), kept current by watch events,
// and which listed holder may be removed (record kept, alive key gone).

import { describe, expect, it } from 'vitest';
import { LineUp } from './etcd-line-up.ts';
import type { EtcdKeyValue } from './etcd-gateway-wire.ts';

const dir = 'g/';
const keys = { semaphore: `${dir}semaphore`, queuePrefix: `${dir}queue/`, holderPrefix: `${dir}holders/`, recordKey: (id: string) => `${dir}holders/${id}/record`, aliveKey: (id: string) => `${dir}holders/${id}/alive` };
const kv = (key: string, value: string, created: number, modified = created): EtcdKeyValue => ({ key, value, createRevision: String(created), modRevision: String(modified), version: '1', lease: '0' });

describe('LineUp', () => {
  it('orders the queue by arrival, follows events, and finds a holder whose lease etcd expired', () => {
    const lineUp = new LineUp(
      keys,
      [
        kv(`${dir}holders/h1/alive`, 't', 3),
        kv(`${dir}holders/h1/record`, '{}', 3),
        kv(`${dir}holders/old/record`, '{}', 2),
        kv(`${dir}queue/a`, 't', 7),
        kv(`${dir}queue/b`, 't', 5),
        kv(`${dir}queue/c`, 't', 6),
        kv(`${dir}semaphore`, '{"semaphore":0,"max":2,"holders":["h1","locksmith"]}', 1, 4),
      ],
      '7',
    );
    expect([lineUp.position(`${dir}queue/b`), lineUp.position(`${dir}queue/c`), lineUp.position(`${dir}queue/a`), lineUp.position(`${dir}queue/x`)]).toEqual([0, 1, 2, -1]);
    expect(lineUp.ahead(`${dir}queue/a`, 2)).toBe(`${dir}queue/b`);
    expect(lineUp.semaphore?.revision).toBe('4');
    // h1 is alive; "locksmith" has no record (never removed); "old" is not listed.
    expect(lineUp.expiredHolder()).toBeNull();
    lineUp.apply({ type: 'delete', kv: kv(`${dir}holders/h1/alive`, '', 3, 8) });
    lineUp.apply({ type: 'delete', kv: kv(`${dir}queue/b`, '', 5, 8) });
    lineUp.apply({ type: 'put', kv: kv(`${dir}queue/d`, 't', 9) });
    expect(lineUp.at).toBe('9');
    expect(lineUp.expiredHolder()).toEqual({ id: 'h1', record: kv(`${dir}holders/h1/record`, '{}', 3) });
    expect([lineUp.position(`${dir}queue/c`), lineUp.position(`${dir}queue/a`), lineUp.position(`${dir}queue/d`)]).toEqual([0, 1, 2]);
    lineUp.apply({ type: 'put', kv: kv(`${dir}semaphore`, '{"semaphore":1,"max":2,"holders":["locksmith"]}', 1, 10) });
    expect(lineUp.semaphore).toEqual({ semaphore: { semaphore: 1, max: 2, holders: ['locksmith'] }, revision: '10' });
    expect(lineUp.expiredHolder()).toBeNull();
  });
});
