// LockBackend adapter on etcd v3, compatible with locksmith: its key and JSON value exactly, every
// change a transaction on the key's mod_revision, the key created only if absent, a corrupt value
// reported and never overwritten. Beside it, per holder, a permanent record and a lease-bound
// "alive" key: a holder whose record remains but whose lease etcd expired may be removed by others;
// a holder without a record (plain locksmith) is never removed automatically.

import { Etcd3 } from 'etcd3';
import { emptySemaphore, lock, parseSemaphore, serializeSemaphore, setMax, unlock } from './semaphore.ts';
import type { AcquireResult, HolderRecord, LockBackend, LockStatus } from './lock-backend.ts';
import type { Semaphore } from './semaphore.ts';
import type { IOptions } from 'etcd3';

const ROOT = 'coreos.com/updateengine/rebootlock';
/** Compare-and-swap rounds before giving up on a busy key; each round re-reads. */
const MAX_ROUNDS = 64;

export interface EtcdLockSettings {
  readonly endpoints: readonly string[];
  /** Empty for locksmith's default (ungrouped) semaphore. */
  readonly group: string;
  /** How long etcd keeps a holder's lease after the holder stops refreshing it: longer than a reboot. */
  readonly holdTtlSeconds: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Per-call deadline, so an unreachable etcd fails instead of hanging. */
  readonly callTimeoutMs: number;
  readonly now: () => number;
  /** Share one connection among many backends (the fleet benchmark simulates hundreds of hosts). */
  readonly client?: Etcd3;
}

/** locksmith's key: the default semaphore, or one per URL-escaped group. */
export function semaphoreKey(group: string): string {
  return group === '' ? `${ROOT}/semaphore` : `${ROOT}/groups/${encodeURIComponent(group)}/semaphore`;
}

function holderPrefix(group: string): string {
  return `${semaphoreKey(group).slice(0, -'semaphore'.length)}holders/`;
}

export class EtcdLockBackend implements LockBackend {
  private readonly client: Etcd3;
  private readonly settings: EtcdLockSettings;
  private readonly ownsClient: boolean;
  readonly key: string;

  constructor(settings: EtcdLockSettings) {
    this.settings = settings;
    this.key = semaphoreKey(settings.group);
    const options: IOptions = {
      hosts: [...settings.endpoints],
      defaultCallOptions: () => ({ deadline: settings.now() + settings.callTimeoutMs }),
      ...(settings.username === undefined ? {} : { auth: { username: settings.username, password: settings.password ?? '' } }),
      ...(settings.tls === undefined ? {} : { credentials: { rootCertificate: settings.tls.ca ?? Buffer.alloc(0), ...(settings.tls.cert && settings.tls.key ? { certChain: settings.tls.cert, privateKey: settings.tls.key } : {}) } }),
    };
    this.ownsClient = settings.client === undefined;
    this.client = settings.client ?? new Etcd3(options);
  }

  close(): void {
    if (this.ownsClient) this.client.close();
  }

  private recordKey(id: string): string {
    return `${holderPrefix(this.settings.group)}${encodeURIComponent(id)}/record`;
  }

  private queueKey(id: string): string {
    return `${holderPrefix(this.settings.group).slice(0, -'holders/'.length)}queue/${encodeURIComponent(id)}`;
  }

  private aliveKey(id: string): string {
    return `${holderPrefix(this.settings.group)}${encodeURIComponent(id)}/alive`;
  }

  /** The value and its mod_revision; the key is created (only if absent) with max 1. */
  private async read(): Promise<{ semaphore: Semaphore; revision: string }> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const response = await this.client.get(this.key).exec();
      const kv = response.kvs[0];
      if (kv) return { semaphore: parseSemaphore(kv.value.toString('utf8'), this.key), revision: kv.mod_revision };
      await this.client.if(this.key, 'Version', '==', 0).then(this.client.put(this.key).value(serializeSemaphore(emptySemaphore()))).commit();
    }
    throw new Error(`unreachable: ${this.key} neither read nor created`);
  }

  async acquire(record: HolderRecord): Promise<AcquireResult> {
    const reclaimed: string[] = [];
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { semaphore, revision } = await this.read();
      const outcome = lock(semaphore, record.id);
      if (outcome.kind === 'already-held') {
        await this.writeRecord(record);
        return { kind: 'already-held', reclaimed };
      }
      if (outcome.kind === 'full') {
        const expired = await this.reclaimOne(semaphore, revision);
        if (expired.kind === 'none') return { kind: 'full', holders: outcome.holders };
        if (expired.kind === 'reclaimed') reclaimed.push(expired.id);
        continue;
      }
      const lease = this.client.lease(this.settings.holdTtlSeconds, { autoKeepAlive: false });
      const leaseId = await lease.grant();
      try {
        const result = await this.client
          .if(this.key, 'Mod', '==', revision)
          .then(
            this.client.put(this.key).value(serializeSemaphore(outcome.next)),
            this.client.put(this.recordKey(record.id)).value(JSON.stringify(record)),
            this.client.put(this.aliveKey(record.id)).value(record.since).lease(leaseId),
          )
          .commit();
        if (result.succeeded) return { kind: 'acquired', reclaimed };
      } catch (error) {
        // A transaction that timed out may still have committed: the next round's read decides.
        if (round === MAX_ROUNDS - 1) throw error;
      }
    }
    throw new Error(`gave up acquiring ${this.key} after ${MAX_ROUNDS} contended rounds`);
  }

  private async writeRecord(record: HolderRecord): Promise<void> {
    const lease = this.client.lease(this.settings.holdTtlSeconds, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    await this.client.put(this.recordKey(record.id)).value(JSON.stringify(record)).exec();
    await this.client.put(this.aliveKey(record.id)).value(record.since).lease(leaseId).exec();
  }

  /**
   * Removes one holder whose record remains but whose lease expired. Returns its id, or conflict when
   * the key changed under us (the caller re-reads), or none when no holder has expired.
   */
  private async reclaimOne(semaphore: Semaphore, revision: string): Promise<{ kind: 'reclaimed'; id: string } | { kind: 'conflict' } | { kind: 'none' }> {
    for (const holder of semaphore.holders) {
      const [record, alive] = await Promise.all([this.client.get(this.recordKey(holder)).exec(), this.client.get(this.aliveKey(holder)).exec()]);
      const recordKv = record.kvs[0];
      if (!recordKv || alive.kvs.length > 0) continue;
      const released = unlock(semaphore, holder);
      if (released.kind !== 'released') continue;
      const result = await this.client
        .if(this.key, 'Mod', '==', revision)
        .and(this.aliveKey(holder), 'Version', '==', 0)
        .and(this.recordKey(holder), 'Mod', '==', recordKv.mod_revision)
        .then(this.client.put(this.key).value(serializeSemaphore(released.next)), this.client.delete().key(this.recordKey(holder)))
        .commit();
      return result.succeeded ? { kind: 'reclaimed', id: holder } : { kind: 'conflict' };
    }
    return { kind: 'none' };
  }

  /**
   * Waits for a place. Waiters queue under the group's queue/ prefix in arrival order and watch the
   * semaphore key; on each change only the waiters whose turn it is (as many as there are free
   * places) write, so a release costs a bounded number of etcd writes however many hosts wait.
   */
  async acquireWhenFree(record: HolderRecord): Promise<AcquireResult> {
    const queueKey = this.queueKey(record.id);
    const queuePrefix = queueKey.slice(0, queueKey.lastIndexOf('/') + 1);
    // Kept alive while this process waits; if it dies, etcd drops its place in the queue.
    const lease = this.client.lease(this.settings.holdTtlSeconds);
    const leaseId = await lease.grant();
    const enqueue = (): Promise<unknown> => this.client.if(queueKey, 'Version', '==', 0).then(this.client.put(queueKey).value(record.since).lease(leaseId)).commit();
    await enqueue();
    try {
      for (;;) {
        const { semaphore, revision } = await this.read();
        if (semaphore.holders.includes(record.id)) return { kind: 'already-held', reclaimed: [] };
        const queue = await this.client.getAll().prefix(queuePrefix).sort('Create', 'Ascend').exec();
        const keys = queue.kvs.map((kv) => kv.key.toString());
        const position = keys.indexOf(queueKey);
        if (position < 0) {
          await enqueue();
          continue;
        }
        if (position < Math.max(semaphore.semaphore, 1)) {
          const result = await this.acquire(record);
          if (result.kind !== 'full') return result;
        }
        // Near the front: wait for the semaphore to change. Further back: wait only for the waiter
        // `max` places ahead to leave the queue, so each change wakes a bounded number of hosts.
        const ahead = keys[position - Math.max(semaphore.max, 1)];
        if (position >= Math.max(semaphore.max, 1) && ahead !== undefined) await this.nextChange(ahead, queue.header.revision, 'delete');
        else await this.nextChange(this.key, revision, 'any');
      }
    } finally {
      await this.client.delete().key(queueKey).exec().catch(() => undefined);
      await lease.revoke().catch(() => undefined);
    }
  }

  /** Resolves at the first change of `key` after `revision` (a watch: no polling). */
  private async nextChange(key: string, revision: string, kind: 'any' | 'delete'): Promise<void> {
    const watcher = await this.client.watch().key(key).startRevision(String(BigInt(revision) + 1n)).create();
    try {
      await new Promise<void>((resolve, reject) => {
        if (kind === 'any') watcher.once('put', () => resolve());
        watcher.once('delete', () => resolve());
        watcher.once('error', reject);
      });
    } finally {
      await watcher.cancel();
    }
  }

  async release(id: string): Promise<'released' | 'not-held'> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { semaphore, revision } = await this.read();
      const outcome = unlock(semaphore, id);
      if (outcome.kind === 'not-held') {
        await this.client.delete().key(this.recordKey(id)).exec();
        await this.client.delete().key(this.aliveKey(id)).exec();
        return 'not-held';
      }
      const result = await this.client
        .if(this.key, 'Mod', '==', revision)
        .then(this.client.put(this.key).value(serializeSemaphore(outcome.next)), this.client.delete().key(this.recordKey(id)), this.client.delete().key(this.aliveKey(id)))
        .commit();
      if (result.succeeded) return 'released';
    }
    throw new Error(`gave up releasing ${this.key} after ${MAX_ROUNDS} contended rounds`);
  }

  async status(): Promise<LockStatus> {
    const { semaphore } = await this.read();
    const holders = await Promise.all(
      semaphore.holders.map(async (id) => {
        const [record, alive] = await Promise.all([this.client.get(this.recordKey(id)).string(), this.client.get(this.aliveKey(id)).exec()]);
        return record === null ? { id, record: null, alive: null } : { id, record: JSON.parse(record) as HolderRecord, alive: alive.kvs.length > 0 };
      }),
    );
    return { key: this.key, semaphore, holders };
  }

  async setMax(max: number): Promise<Semaphore> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const { semaphore, revision } = await this.read();
      const next = setMax(semaphore, max);
      const result = await this.client.if(this.key, 'Mod', '==', revision).then(this.client.put(this.key).value(serializeSemaphore(next))).commit();
      if (result.succeeded) return next;
    }
    throw new Error(`gave up setting max on ${this.key} after ${MAX_ROUNDS} contended rounds`);
  }
}
