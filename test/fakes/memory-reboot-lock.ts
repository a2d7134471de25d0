// In-memory RebootLock with locksmith's semaphore rules, for coordinator tests: it can be taken
// down, and can run a hook inside acquire (to move a test clock). Passes the RebootLock contract.

import { emptySemaphore, lock, unlock } from '../../agent/lock/semaphore.ts';
import type { AcquireResult, HolderRecord, RebootLock } from '../../agent/lock/lock-backend.ts';
import type { Semaphore } from '../../agent/lock/semaphore.ts';

export class MemoryRebootLock implements RebootLock {
  semaphore: Semaphore;
  down = false;
  onAcquire: (() => void) | null = null;
  readonly calls: string[] = [];

  constructor(max = 1) {
    this.semaphore = emptySemaphore(max);
  }

  acquire(record: HolderRecord): Promise<AcquireResult> {
    this.calls.push(`acquire ${record.id}`);
    this.onAcquire?.();
    if (this.down) return Promise.reject(new Error('lock backend unreachable'));
    const outcome = lock(this.semaphore, record.id);
    if (outcome.kind === 'full') return Promise.resolve({ kind: 'full', holders: outcome.holders });
    this.semaphore = outcome.next;
    return Promise.resolve({ kind: outcome.kind, reclaimed: [] });
  }

  release(id: string): Promise<'released' | 'not-held'> {
    this.calls.push(`release ${id}`);
    if (this.down) return Promise.reject(new Error('lock backend unreachable'));
    const outcome = unlock(this.semaphore, id);
    if (outcome.kind === 'not-held') return Promise.resolve('not-held');
    this.semaphore = outcome.next;
    return Promise.resolve('released');
  }

  keep(record: HolderRecord): Promise<'held' | 'not-held'> {
    this.calls.push(`keep ${record.id}`);
    if (this.down) return Promise.reject(new Error('lock backend unreachable'));
    return Promise.resolve(this.semaphore.holders.includes(record.id) ? 'held' : 'not-held');
  }

  holds(id: string): Promise<boolean> {
    return Promise.resolve(this.semaphore.holders.includes(id));
  }
}
