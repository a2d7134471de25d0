// LockBackend adapter on etcd v3 (through its JSON gateway), compatible with locksmith: its key and
// JSON value exactly, every change a transaction on the key's mod_revision, the key created only if
// absent, a corrupt value reported and never overwritten. Beside it, per holder, a permanent record
// and a lease-bound "alive" key: a holder whose record remains but whose lease etcd expired may be
// removed by others; a holder without a record (plain locksmith) is never removed automatically.
// An operator's hold binds its alive key to no lease (never reclaimed) or to one of its own length,
// which nobody renews.

import { readEtcdTls } from './etcd-connection.ts';
import { EtcdGatewayClient } from './etcd-gateway-client.ts';
import { LineUp } from './etcd-line-up.ts';
import { goQueryEscape } from './go-query-escape.ts';
import { LockError } from './lock-errors.ts';
import { emptySemaphore, lock, parseSemaphore, serializeSemaphore, setMax, unlock } from './semaphore.ts';
import type { EtcdConnection, EtcdTls } from './etcd-connection.ts';
import type { EtcdCompare } from './etcd-gateway-wire.ts';
import type { AcquireResult, HolderRecord, LockBackend, LockStatus, OperatorHold } from './lock-backend.ts';
import type { Semaphore } from './semaphore.ts';

const ROOT = 'coreos.com/updateengine/rebootlock';
/** Compare-and-swap rounds before giving up on a busy key; each round re-reads. */
const MAX_ROUNDS = 64;
/** A round's verdict when the key changed under it: read again. */
const AGAIN = Symbol('again');
/** How much of a waiter's lease is left when it is renewed, at most (short leases are renewed each third). */
const RENEWAL_MARGIN_MS = 60_000;
/** Watches or writes cut off in a row (an etcd member going away) that a waiter rides out by reading again. */
const MAX_BROKEN = 8;

/** How a new holder's alive key is bound: the agent's lease (kept alive by it), or an operator's hold. */
type Binding = { readonly kind: 'kept' } | OperatorHold;

export interface EtcdLockBackendOptions {
  readonly connection: EtcdConnection;
  /** Empty for locksmith's default (ungrouped) semaphore. */
  readonly group: string;
  /** How long etcd keeps a holder's lease after the holder stops refreshing it: longer than a reboot. */
  readonly holdTtlSeconds: number;
  /** Per-call deadline, so an unreachable etcd fails instead of hanging. */
  readonly callTimeoutMs: number;
  readonly now: () => number;
}

/**
 * The backend on its own client. The connection's TLS files are read here (a missing or unreadable
 * one fails at once, naming it) unless `tls` brings them already read.
 */
export async function openEtcdLockBackend(options: EtcdLockBackendOptions, tls?: EtcdTls | null): Promise<EtcdLockBackend> {
  const client = new EtcdGatewayClient({ connection: options.connection, tls: tls === undefined ? await readEtcdTls(options.connection) : tls, callTimeoutMs: options.callTimeoutMs, now: options.now });
  return new EtcdLockBackend(client, options);
}

/**
 * locksmith's key (lock/etcd.go, NewEtcdLockClient): the default semaphore for an empty group, else
 * path.Join of the prefix, "groups", url.QueryEscape(group) and "semaphore". The escaped group holds
 * no "/" (QueryEscape writes it %2F), but path.Join cleans the joined path, so a group of "." drops
 * out and ".." removes "groups": locksmith's key for ".." is the default semaphore, and so is ours.
 */
export function semaphoreKey(group: string): string {
  if (group === '') return `${ROOT}/semaphore`;
  const escaped = goQueryEscape(group);
  if (escaped === '.') return `${ROOT}/groups/semaphore`;
  if (escaped === '..') return `${ROOT}/semaphore`;
  return `${ROOT}/groups/${escaped}/semaphore`;
}

function holderPrefix(group: string): string {
  return `${semaphoreKey(group).slice(0, -'semaphore'.length)}holders/`;
}

interface Current {
  readonly semaphore: Semaphore;
  readonly revision: string;
}

export class EtcdLockBackend implements LockBackend {
  readonly key: string;
  private readonly client: EtcdGatewayClient;
  private readonly group: string;
  private readonly holdTtlSeconds: number;

  /** `client` may be shared by many backends (the fleet benchmark's hundreds of hosts); close() closes it. */
  constructor(client: EtcdGatewayClient, options: Pick<EtcdLockBackendOptions, 'group' | 'holdTtlSeconds'>) {
    this.client = client;
    this.group = options.group;
    this.holdTtlSeconds = options.holdTtlSeconds;
    this.key = semaphoreKey(options.group);
  }

  close(): void {
    this.client.close();
  }

  // Holder ids go into slipway's own keys (locksmith keeps none) escaped as groups are, one rule for both.
  private recordKey(id: string): string {
    return `${holderPrefix(this.group)}${goQueryEscape(id)}/record`;
  }

  private queueKey(id: string): string {
    return `${holderPrefix(this.group).slice(0, -'holders/'.length)}queue/${goQueryEscape(id)}`;
  }

  private aliveKey(id: string): string {
    return `${holderPrefix(this.group)}${goQueryEscape(id)}/alive`;
  }

  /** The compare every change of the semaphore carries. */
  private unchanged(revision: string): EtcdCompare {
    return { key: this.key, target: 'mod', equals: revision };
  }

  /**
   * The one read-compare-swap loop. Each round reads the value and its mod_revision (creating the key,
   * only if absent, with max 1) and hands them to `round`, which writes under a compare on that
   * revision and returns AGAIN when the key changed meanwhile. A round that got no answer (a timeout)
   * may still have committed: the next read decides, so it is run once more before the error counts.
   */
  private async swap<T>(doing: string, round: (current: Current) => Promise<T | typeof AGAIN>): Promise<T> {
    let unanswered = false;
    for (let attempt = 0; attempt < MAX_ROUNDS; attempt++) {
      const kv = await this.client.get(this.key);
      if (kv === null) {
        await this.client.txn([{ key: this.key, target: 'version', equals: '0' }], [{ put: this.key, value: serializeSemaphore(emptySemaphore()) }]);
        continue;
      }
      try {
        const outcome = await round({ semaphore: parseSemaphore(kv.value, this.key), revision: kv.modRevision });
        if (outcome !== AGAIN) return outcome;
        unanswered = false;
      } catch (error) {
        if (!(error instanceof LockError && error.code === 'ERR_LOCK_UNAVAILABLE') || unanswered || attempt === MAX_ROUNDS - 1) throw error;
        unanswered = true;
      }
    }
    throw new LockError('ERR_LOCK_CONTENDED', `gave up ${doing} ${this.key}: it changed under each of ${MAX_ROUNDS} compare-and-swap rounds`);
  }

  /** The value and its mod_revision; the key is created (only if absent) with max 1, as locksmith does. */
  private read(): Promise<Current> {
    return this.swap('reading', (current) => Promise.resolve(current));
  }

  acquire(record: HolderRecord): Promise<AcquireResult> {
    return this.take(record, { kind: 'kept' });
  }

  /**
   * An operator's maintenance hold (`slipway lock acquire`): without a TTL the alive key has no lease,
   * so etcd never drops it and nobody reclaims the place until it is unlocked; with one, a lease of
   * that length that nobody renews, the record saying when it runs out. Held already, the hold is
   * made anew as asked.
   */
  hold(record: HolderRecord, hold: OperatorHold): Promise<AcquireResult> {
    return this.take(record, hold);
  }

  private async take(asked: HolderRecord, binding: Binding): Promise<AcquireResult> {
    const reclaimed: string[] = [];
    return this.swap('acquiring', async ({ semaphore, revision }) => {
      const outcome = lock(semaphore, asked.id);
      if (outcome.kind === 'already-held') {
        const { record, lease } = await this.bind(asked, binding);
        await this.client.put(this.recordKey(record.id), JSON.stringify(record));
        await this.client.put(this.aliveKey(record.id), record.since, lease);
        return { kind: 'already-held', reclaimed };
      }
      if (outcome.kind === 'full') {
        const expired = await this.reclaimOne(semaphore, revision);
        if (expired.kind === 'none') return { kind: 'full', holders: outcome.holders };
        if (expired.kind === 'reclaimed') reclaimed.push(expired.id);
        return AGAIN;
      }
      const { record, lease } = await this.bind(asked, binding);
      const { succeeded } = await this.client.txn(
        [this.unchanged(revision)],
        [
          { put: this.key, value: serializeSemaphore(outcome.next) },
          { put: this.recordKey(record.id), value: JSON.stringify(record) },
          { put: this.aliveKey(record.id), value: record.since, ...(lease === undefined ? {} : { lease }) },
        ],
      );
      if (succeeded) return { kind: 'acquired', reclaimed };
      // The lease binds nothing: give it back now rather than leave it to its TTL (it expires anyway).
      if (lease !== undefined) await this.client.revokeLease(lease).catch(() => undefined);
      return AGAIN;
    });
  }

  /** The lease for a new alive key (none for a permanent hold) and the record that says which it is. */
  private async bind(record: HolderRecord, binding: Binding): Promise<{ record: HolderRecord; lease: string | undefined }> {
    const plain: HolderRecord = { id: record.id, host: record.host, since: record.since, targetVersion: record.targetVersion };
    if (binding.kind === 'kept') return { record: plain, lease: await this.client.grantLease(this.holdTtlSeconds) };
    if (binding.kind === 'permanent') return { record: { ...plain, expires: 'never' }, lease: undefined };
    // etcd may grant longer than asked (its minimum TTL): the record says what it granted.
    const granted = await this.client.grantLeaseFor(binding.ttlSeconds);
    return { record: { ...plain, expires: new Date(Date.parse(record.since) + granted.ttlSeconds * 1000).toISOString() }, lease: granted.id };
  }

  /**
   * Removes one holder whose record remains but whose lease expired. Returns its id, or conflict when
   * the key changed under us (the caller re-reads), or none when no holder has expired.
   */
  private async reclaimOne(semaphore: Semaphore, revision: string): Promise<{ kind: 'reclaimed'; id: string } | { kind: 'conflict' } | { kind: 'none' }> {
    if (semaphore.holders.length === 0) return { kind: 'none' };
    // One read of every holder's keys rather than two per holder.
    const keys = new Map((await this.client.range(holderPrefix(this.group), { prefix: true })).kvs.map((kv) => [kv.key, kv]));
    for (const holder of semaphore.holders) {
      const record = keys.get(this.recordKey(holder));
      if (record === undefined || keys.has(this.aliveKey(holder))) continue;
      const released = unlock(semaphore, holder);
      if (released.kind !== 'released') continue;
      const { succeeded } = await this.client.txn(
        [this.unchanged(revision), { key: this.aliveKey(holder), target: 'version', equals: '0' }, { key: this.recordKey(holder), target: 'mod', equals: record.modRevision }],
        [{ put: this.key, value: serializeSemaphore(released.next) }, { delete: this.recordKey(holder) }],
      );
      return succeeded ? { kind: 'reclaimed', id: holder } : { kind: 'conflict' };
    }
    return { kind: 'none' };
  }

  /**
   * Waits for a place. Waiters queue under the group's queue/ prefix in arrival order. A waiter further
   * back than `max` places watches only the waiter `max` places ahead of it, so a change wakes a bounded
   * number of hosts; one near the front reads its group once and follows it on one watch, writing only
   * when a place is its turn (or a holder's lease expired). The queue entry's lease becomes the holder's.
   */
  async acquireWhenFree(record: HolderRecord): Promise<AcquireResult> {
    const queueKey = this.queueKey(record.id);
    // Renewed by the client's clock (however often the line moves) when a minute of it is left, or two
    // thirds of a short one: that long for a renewal that fails to be tried again. A lapse costs the
    // place in the queue, never a place in the semaphore; the place keeper renews a holder's lease at
    // once. If this process dies, etcd drops its queue entry.
    const renewEveryMs = Math.max(this.holdTtlSeconds * 1000 - RENEWAL_MARGIN_MS, (this.holdTtlSeconds * 1000) / 3);
    let lease = await this.client.grantLease(this.holdTtlSeconds);
    let renewedAt = this.client.now();
    // A lease etcd already dropped (it was unreachable for a whole TTL) took the queue entry with it: a
    // new one, and the next read queues again. True while the place in the queue is kept.
    const renew = async (): Promise<boolean> => {
      renewedAt = this.client.now();
      if ((await this.client.keepAliveLease(lease)) > 0) return true;
      lease = await this.client.grantLease(this.holdTtlSeconds);
      return false;
    };
    /** How long a wait may last before the lease is due: renewed first if it is (nearly) due; null when it lapsed. */
    const untilRenewal = async (): Promise<number | null> => {
      const left = renewedAt + renewEveryMs - this.client.now();
      if (left > renewEveryMs / 10) return left;
      return (await renew()) ? renewEveryMs : null;
    };
    let held = false;
    let broken = 0;
    try {
      for (;;) {
        try {
          const lineUp = await this.lineUp(queueKey, record.since, lease);
          const current = lineUp.semaphore;
          if (current === null) {
            await this.client.txn([{ key: this.key, target: 'version', equals: '0' }], [{ put: this.key, value: serializeSemaphore(emptySemaphore()) }]);
            continue;
          }
          if (current.semaphore.holders.includes(record.id)) {
            // Our own acquiring transaction, whose reply was lost: the alive key is on this lease.
            held = lineUp.holderKey(this.aliveKey(record.id))?.lease === lease;
            return held ? { kind: 'acquired', reclaimed: [] } : { kind: 'already-held', reclaimed: [] };
          }
          const ahead = lineUp.ahead(queueKey, Math.max(current.semaphore.max, 1));
          if (ahead !== undefined) {
            // Renewing the lease needs no new read: the watch goes on from the same revision.
            for (let wait = await untilRenewal(); wait !== null; wait = await untilRenewal()) {
              if ((await this.client.nextChange(ahead, lineUp.at, { deletesOnly: true, maxWaitMs: wait })) === 'changed') break;
            }
          } else if (lineUp.position(queueKey) >= 0) {
            const outcome = await this.atTheFront(lineUp, record, lease, untilRenewal);
            if (outcome !== 'again') {
              held = outcome.kind === 'acquired';
              return outcome;
            }
          }
          broken = 0;
        } catch (error) {
          // A watch or write cut off (an etcd member went away): read again, through the next endpoint.
          if (!(error instanceof LockError && error.code === 'ERR_LOCK_UNAVAILABLE') || ++broken > MAX_BROKEN) throw error;
          // Its lease may be what etcd refused (it lapsed while etcd was away).
          await renew().catch(() => undefined);
        }
      }
    } finally {
      if (!held) {
        await this.client.delete(queueKey).catch(() => undefined);
        await this.client.revokeLease(lease).catch(() => undefined);
      }
    }
  }

  /** One request: queues `queueKey` on `lease` unless it is queued, and reads the group's keys as of then. */
  private async lineUp(queueKey: string, since: string, lease: string): Promise<LineUp> {
    // holders/, queue/ and the semaphore sit side by side under the group, in that order.
    const group = { range: holderPrefix(this.group), end: `${this.key}\0` };
    const { ranges, revision } = await this.client.txn([{ key: queueKey, target: 'version', equals: '0' }], [{ put: queueKey, value: since, lease }, group], [group]);
    return new LineUp({ semaphore: this.key, queuePrefix: queueKey.slice(0, queueKey.lastIndexOf('/') + 1), holderPrefix: holderPrefix(this.group), recordKey: (id) => this.recordKey(id), aliveKey: (id) => this.aliveKey(id) }, ranges[0] ?? [], revision);
  }

  /**
   * Near the front: follows the group on one watch from the line-up's revision and, after each event,
   * takes a place when one is free for this waiter's position, or removes a holder whose lease etcd
   * expired. Every write is a compare on the semaphore's mod_revision; one that lost is answered by the
   * event that beat it. The lease is renewed as it falls due; 'again' when the picture must be
   * read anew (or the lease was lost).
   */
  private async atTheFront(lineUp: LineUp, record: HolderRecord, lease: string, untilRenewal: () => Promise<number | null>): Promise<AcquireResult | 'again'> {
    const queueKey = this.queueKey(record.id);
    const reclaimed: string[] = [];
    const act = async (): Promise<AcquireResult | 'again' | null> => {
      const current = lineUp.semaphore;
      const position = lineUp.position(queueKey);
      if (current === null || position < 0 || current.semaphore.holders.includes(record.id)) return 'again';
      const outcome = lock(current.semaphore, record.id);
      if (outcome.kind === 'acquired' && position < current.semaphore.semaphore) {
        const { succeeded } = await this.client.txn(
          [this.unchanged(current.revision)],
          [
            { put: this.key, value: serializeSemaphore(outcome.next) },
            // The agent's own record, as acquire writes it: no operator's expiry.
            { put: this.recordKey(record.id), value: JSON.stringify({ id: record.id, host: record.host, since: record.since, targetVersion: record.targetVersion }) },
            { put: this.aliveKey(record.id), value: record.since, lease },
            { delete: queueKey },
          ],
        );
        return succeeded ? { kind: 'acquired', reclaimed } : null;
      }
      const expired = outcome.kind === 'full' && position < Math.max(current.semaphore.max, 1) ? lineUp.expiredHolder() : null;
      const released = expired === null ? null : unlock(current.semaphore, expired.id);
      if (expired !== null && released?.kind === 'released') {
        const { succeeded } = await this.client.txn(
          [this.unchanged(current.revision), { key: this.aliveKey(expired.id), target: 'version', equals: '0' }, { key: this.recordKey(expired.id), target: 'mod', equals: expired.record.modRevision }],
          [{ put: this.key, value: serializeSemaphore(released.next) }, { delete: this.recordKey(expired.id) }],
        );
        if (succeeded) reclaimed.push(expired.id);
      }
      return null;
    };
    const first = await act();
    if (first !== null) return first;
    for (let wait = await untilRenewal(); wait !== null; wait = await untilRenewal()) {
      // Decided once per transaction: its events (a holder's record and alive key) arrive together.
      for await (const events of this.client.watchBatches(holderPrefix(this.group), { end: `${this.key}\0`, startRevision: String(BigInt(lineUp.at) + 1n), maxWaitMs: wait })) {
        if (events.some((event) => event.type === 'compacted')) return 'again';
        for (const event of events) lineUp.apply(event);
        const outcome = await act();
        if (outcome !== null) return outcome;
      }
    }
    return 'again';
  }

  /**
   * Keeps this holder's place: renews the lease of its alive key or, when etcd dropped that lease (the
   * holder was away longer than a lease) and nobody has taken the place meanwhile, binds a new one.
   * Every answer is etcd's, read now; 'not-held' when the semaphore no longer lists the holder.
   */
  async keep(record: HolderRecord): Promise<'held' | 'not-held'> {
    return this.swap('keeping a place in', async ({ semaphore, revision }) => {
      if (!semaphore.holders.includes(record.id)) return 'not-held';
      const [alive, stored] = await Promise.all([this.client.get(this.aliveKey(record.id)), this.client.get(this.recordKey(record.id))]);
      // An alive key without a lease is an operator's permanent hold on this id: held, and left permanent.
      if (alive !== null && alive.lease === '0') return 'held';
      if (alive !== null && (await this.client.keepAliveLease(alive.lease)) > 0) return 'held';
      // Bound again only while the semaphore still lists this holder and nobody changed its alive key:
      // a reclaim that won meanwhile changed the semaphore, and this round reads it again.
      const lease = await this.client.grantLease(this.holdTtlSeconds);
      const { succeeded } = await this.client.txn(
        [this.unchanged(revision), alive === null ? { key: this.aliveKey(record.id), target: 'version', equals: '0' } : { key: this.aliveKey(record.id), target: 'mod', equals: alive.modRevision }],
        [...(stored === null ? [{ put: this.recordKey(record.id), value: JSON.stringify(record) }] : []), { put: this.aliveKey(record.id), value: record.since, lease }],
      );
      if (succeeded) return 'held';
      await this.client.revokeLease(lease).catch(() => undefined);
      return AGAIN;
    });
  }

  async release(id: string): Promise<'released' | 'not-held'> {
    return this.swap('releasing', async ({ semaphore, revision }) => {
      const outcome = unlock(semaphore, id);
      if (outcome.kind === 'not-held') {
        // Leftovers of an earlier hold, removed only while the semaphore is as read: a release that
        // raced an acquire of the same id must not strip the new holder of its record and lease.
        const { succeeded } = await this.client.txn([this.unchanged(revision)], [{ delete: this.recordKey(id) }, { delete: this.aliveKey(id) }]);
        return succeeded ? 'not-held' : AGAIN;
      }
      const { succeeded } = await this.client.txn([this.unchanged(revision)], [{ put: this.key, value: serializeSemaphore(outcome.next) }, { delete: this.recordKey(id) }, { delete: this.aliveKey(id) }]);
      return succeeded ? 'released' : AGAIN;
    });
  }

  async status(): Promise<LockStatus> {
    const { semaphore } = await this.read();
    const holders = await Promise.all(
      semaphore.holders.map(async (id) => {
        const [record, alive] = await Promise.all([this.client.get(this.recordKey(id)), this.client.get(this.aliveKey(id))]);
        return record === null ? { id, record: null, alive: null } : { id, record: this.parseRecord(record.key, record.value), alive: alive !== null };
      }),
    );
    return { key: this.key, semaphore, holders };
  }

  private parseRecord(key: string, text: string): HolderRecord {
    try {
      return JSON.parse(text) as HolderRecord;
    } catch (cause) {
      throw new LockError('ERR_LOCK_CORRUPT', `holder record ${key} is not JSON: ${JSON.stringify(text.slice(0, 80))}`, { cause });
    }
  }

  async setMax(max: number): Promise<Semaphore> {
    return this.swap('setting max on', async ({ semaphore, revision }) => {
      const next = setMax(semaphore, max);
      const { succeeded } = await this.client.txn([this.unchanged(revision)], [{ put: this.key, value: serializeSemaphore(next) }]);
      return succeeded ? next : AGAIN;
    });
  }
}
