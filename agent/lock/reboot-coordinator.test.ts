// The reboot coordinator under a test clock: strategies, windows, a full or unreachable lock, a lock
// that arrives after the window closed, a lock lost before rebooting, and release until confirmed.

import { describe, expect, it } from 'vitest';
import { coordinateReboot, releaseUntilConfirmed } from './reboot-coordinator.ts';
import { rebootWindows } from './reboot-window.ts';
import { parseLocksmithWindow } from '../../platform/locksmith-window.ts';
import { MemoryRebootLock } from '../../test/fakes/memory-reboot-lock.ts';
import { TestClock } from '../../test/fakes/test-clock.ts';
import type { CoordinatorDeps, RebootStrategy } from './reboot-coordinator.ts';

const record = { id: 'me', host: 'me.example', since: '2026-11-24T12:00:00Z', targetVersion: '1.0.1' };
const anyTime = rebootWindows('UTC', []);
const nightly = rebootWindows('UTC', [parseLocksmithWindow('02:00', '1h')]);

function setup(strategy: RebootStrategy, windows = anyTime, start = '2026-11-24T12:00:00Z') {
  const clock = new TestClock(start);
  const lock = new MemoryRebootLock(1);
  const reboots: string[] = [];
  const deps: CoordinatorDeps = {
    strategy,
    windows,
    lock,
    holds: (id) => lock.holds(id),
    rebooter: { reboot: () => (reboots.push(clock.now().toISOString()), Promise.resolve()) },
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    log: () => {},
  };
  return { clock, lock, reboots, deps };
}

describe('coordinateReboot', () => {
  it('off: stages only, never reboots or locks', async () => {
    const { deps, reboots, lock } = setup('off');
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'off' });
    expect(reboots).toEqual([]);
    expect(lock.calls).toEqual([]);
  });

  it('reboot: waits for the window, then reboots without a lock', async () => {
    const { deps, reboots, lock } = setup('reboot', nightly);
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'rebooting', locked: false });
    expect(reboots).toEqual(['2026-11-25T02:00:00.000Z']);
    expect(lock.calls).toEqual([]);
  });

  it('etcd-lock: waits while the lock is full, then reboots holding it', async () => {
    const { deps, reboots, lock, clock } = setup('etcd-lock');
    lock.semaphore = { semaphore: 0, max: 1, holders: ['other'] };
    let tries = 0;
    lock.onAcquire = () => {
      if (++tries === 3) lock.semaphore = { semaphore: 1, max: 1, holders: [] };
    };
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(clock.sleeps).toEqual([500, 1_000]);
    expect(lock.semaphore.holders).toEqual(['me']);
    expect(reboots).toHaveLength(1);
  });

  it('etcd-lock: no reboot while the backend is unreachable; backs off, then goes on', async () => {
    const { deps, reboots, lock, clock } = setup('etcd-lock');
    lock.down = true;
    let tries = 0;
    lock.onAcquire = () => {
      if (++tries === 4) lock.down = false;
    };
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(clock.sleeps).toEqual([500, 1_000, 2_000]);
    expect(reboots).toHaveLength(1);
  });

  it('waits in line by watch where the backend can, instead of sleeping on backoff', async () => {
    const { deps, reboots, lock, clock } = setup('etcd-lock');
    lock.semaphore = { semaphore: 0, max: 1, holders: ['other'] };
    const waiting = Object.assign(Object.create(lock) as typeof lock, {
      acquireWhenFree: async (r: typeof record) => {
        lock.calls.push(`wait ${r.id}`);
        await lock.release('other'); // the holder leaves; the watch wakes us
        return lock.acquire(r);
      },
    });
    expect(await coordinateReboot({ ...deps, lock: waiting }, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(lock.calls).toEqual(['wait me', 'release other', 'acquire me']);
    expect(clock.sleeps).toEqual([]);
    expect(reboots).toHaveLength(1);
  });

  it('best-effort: reboots without the lock when the backend is unreachable', async () => {
    const { deps, reboots, lock } = setup('best-effort');
    lock.down = true;
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'rebooting', locked: false });
    expect(reboots).toHaveLength(1);
  });

  it('gives the lock back when it arrives after the window closed, and waits for the next window', async () => {
    const { deps, reboots, lock, clock } = setup('etcd-lock', nightly, '2026-11-24T02:30:00Z');
    let first = true;
    lock.onAcquire = () => {
      if (first) clock.advance(45 * 60_000); // a slow acquire: the window closes meanwhile
      first = false;
    };
    expect(await coordinateReboot(deps, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(lock.calls).toEqual(['acquire me', 'release me', 'acquire me']);
    expect(reboots).toEqual(['2026-11-25T02:00:00.000Z']);
  });

  it('does not reboot when the lock was lost just before rebooting', async () => {
    const { deps, reboots, lock } = setup('etcd-lock');
    let checks = 0;
    const holds = deps.holds;
    const result = await coordinateReboot(
      {
        ...deps,
        holds: async (id) => {
          if (++checks === 1) {
            await lock.release(id); // an operator unlocked us
            return false;
          }
          return holds ? holds(id) : true;
        },
      },
      record,
    );
    expect(result).toEqual({ kind: 'rebooting', locked: true });
    expect(checks).toBe(2);
    expect(reboots).toHaveLength(1);
  });
});

describe('releaseUntilConfirmed', () => {
  it('retries while the backend is down, until it confirms', async () => {
    const { deps, lock, clock } = setup('etcd-lock');
    await lock.acquire(record);
    lock.down = true;
    let tries = 0;
    const original = lock.release.bind(lock);
    lock.release = (id) => {
      if (++tries === 3) lock.down = false;
      return original(id);
    };
    expect(await releaseUntilConfirmed(deps, 'me')).toBe('released');
    expect(clock.sleeps).toEqual([500, 1_000]);
    expect(lock.semaphore.holders).toEqual([]);
  });
});
