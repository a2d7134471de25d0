// A waiter's picture of its group's keys in etcd (the semaphore, the queue in arrival order, the
// holders' record and alive keys), read once at one revision and kept current from one watch's events,
// so a waiter at the front decides from events alone and spends requests only on its writes.

import { parseSemaphore } from './semaphore.ts';
import type { EtcdKeyValue, EtcdWatchEvent } from './etcd-gateway-wire.ts';
import type { Semaphore } from './semaphore.ts';

export interface LineUpKeys {
  readonly semaphore: string;
  readonly queuePrefix: string;
  readonly holderPrefix: string;
  readonly recordKey: (id: string) => string;
  readonly aliveKey: (id: string) => string;
}

export class LineUp {
  /** The semaphore and its mod_revision, null while the key is absent. */
  semaphore: { readonly semaphore: Semaphore; readonly revision: string } | null = null;
  /** The revision this picture is as of: a watch continues from the one after it. */
  at: string;
  /** Queue keys with their create_revision, in arrival order. */
  private readonly queue: { key: string; created: bigint }[] = [];
  private readonly holderKeys = new Map<string, EtcdKeyValue>();
  private readonly keys: LineUpKeys;

  constructor(keys: LineUpKeys, kvs: readonly EtcdKeyValue[], at: string) {
    this.keys = keys;
    this.at = at;
    for (const kv of kvs) {
      if (kv.key.startsWith(keys.queuePrefix)) this.queue.push({ key: kv.key, created: BigInt(kv.createRevision) });
      else this.put(kv);
    }
    this.queue.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  }

  apply(event: EtcdWatchEvent): void {
    if (event.type === 'compacted') return;
    if (BigInt(event.kv.modRevision) > BigInt(this.at)) this.at = event.kv.modRevision;
    if (event.type === 'put') {
      this.put(event.kv);
      return;
    }
    const { key } = event.kv;
    if (key === this.keys.semaphore) this.semaphore = null;
    else if (key.startsWith(this.keys.queuePrefix)) {
      const index = this.position(key);
      if (index >= 0) this.queue.splice(index, 1);
    } else this.holderKeys.delete(key);
  }

  /** How many waiters are ahead of `queueKey`; -1 when it is not queued. */
  position(queueKey: string): number {
    return this.queue.findIndex((q) => q.key === queueKey);
  }

  /** The queue key `places` ahead of `queueKey`. */
  ahead(queueKey: string, places: number): string | undefined {
    return this.queue[this.position(queueKey) - places]?.key;
  }

  holderKey(key: string): EtcdKeyValue | undefined {
    return this.holderKeys.get(key);
  }

  /** A listed holder whose record remains but whose alive key etcd removed (its lease expired), with that record. */
  expiredHolder(): { readonly id: string; readonly record: EtcdKeyValue } | null {
    for (const id of this.semaphore?.semaphore.holders ?? []) {
      const record = this.holderKeys.get(this.keys.recordKey(id));
      if (record !== undefined && !this.holderKeys.has(this.keys.aliveKey(id))) return { id, record };
    }
    return null;
  }

  private put(kv: EtcdKeyValue): void {
    if (kv.key === this.keys.semaphore) {
      this.semaphore = { semaphore: parseSemaphore(kv.value, kv.key), revision: kv.modRevision };
    } else if (kv.key.startsWith(this.keys.queuePrefix)) {
      // A new entry is the newest (puts of one already queued change nothing).
      if (this.position(kv.key) < 0) this.queue.push({ key: kv.key, created: BigInt(kv.createRevision) });
    } else if (kv.key.startsWith(this.keys.holderPrefix)) {
      this.holderKeys.set(kv.key, kv);
    }
  }
}
