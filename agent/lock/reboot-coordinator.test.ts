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
  const keepers: string[] = [];
  const logs: string[] = [];
  let blockers: readonly string[] = [];
  const deps: CoordinatorDeps = {
    strategy,
    windows,
    lock,
    keepPlace: (r) => (keepers.push(`keep ${r.id}`), { lost: false, stop: () => keepers.push(`stop ${r.id}`) }),
    rebooter: { blockers: () => Promise.resolve(blockers), reboot: () => (reboots.push(clock.now().toISOString()), Promise.resolve()) },
    inhibitorWaitMs: 600_000,
    inhibitorPollMs: 10_000,
    clock,
    random: () => 0.5,
    backoff: { baseMs: 1_000, maxMs: 60_000 },
    log: (_fields, message) => logs.push(message),
  };
  const block = (who: readonly string[]): void => {
    blockers = who;
  };
  return { clock, lock, reboots, keepers, logs, block, deps };
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
    expect(lock.calls).toEqual(['wait me', 'release other', 'acquire me', 'keep me', 'keep me']);
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
    expect(lock.calls).toEqual(['acquire me', 'release me', 'acquire me', 'keep me', 'keep me']);
    expect(reboots).toEqual(['2026-11-25T02:00:00.000Z']);
  });

  it('does not reboot when the place was lost while the slot was armed; disarms it, asks again, and arms again once it holds one', async () => {
    const { deps, reboots, lock, keepers, logs } = setup('etcd-lock');
    let prepared = 0;
    const arming: string[] = [];
    const result = await coordinateReboot(deps, record, {
      arm: async () => {
        arming.push('arm');
        // An operator unlocks this host while it arms the slot.
        if (++prepared === 1) await lock.release(record.id);
      },
      disarm: () => (arming.push('disarm'), Promise.resolve()),
    });
    expect(result).toEqual({ kind: 'rebooting', locked: true });
    expect(prepared).toBe(2);
    expect(arming).toEqual(['arm', 'disarm', 'arm']);
    expect(lock.calls).toEqual(['acquire me', 'keep me', 'release me', 'keep me', 'acquire me', 'keep me', 'keep me']);
    expect(logs).toContain('lost the reboot lock before the reboot call: not rebooting; asking for a place again');
    expect(keepers).toEqual(['keep me', 'stop me', 'keep me', 'stop me']);
    expect(reboots).toHaveLength(1);
  });

  it('runs the reboot.before hooks holding the place, before arming; a failed hook postpones the reboot and gives the place back', async () => {
    const { deps, reboots, lock, logs, clock } = setup('etcd-lock');
    const events: string[] = [];
    let runs = 0;
    const result = await coordinateReboot(
      { ...deps, beforeReboot: () => (events.push(`hooks holding=${lock.semaphore.holders.join(',')}`), Promise.resolve(++runs === 1 ? 'drain.service ended "failed"' : null)) },
      record,
      { arm: () => (events.push('arm'), Promise.resolve()), disarm: () => Promise.resolve() },
    );
    expect(result).toEqual({ kind: 'rebooting', locked: true });
    expect(events).toEqual(['hooks holding=me', 'hooks holding=me', 'arm']);
    // Given back after the failed drain, asked for again after backoff, and confirmed after the drain that worked.
    expect(lock.calls).toEqual(['acquire me', 'keep me', 'release me', 'acquire me', 'keep me', 'keep me', 'keep me']);
    expect(clock.sleeps).toEqual([500]);
    expect(logs).toContain('reboot postponed: reboot.before drain.service ended "failed"; the reboot lock is given back and asked for again later');
    expect(reboots).toHaveLength(1);
  });

  it('reboot strategy: a failed reboot.before hook postpones the reboot too', async () => {
    const { deps, reboots, clock } = setup('reboot');
    let runs = 0;
    expect(await coordinateReboot({ ...deps, beforeReboot: () => Promise.resolve(++runs < 3 ? 'drain.service ran past reboot.hook_timeout (600 s) and was stopped' : null) }, record)).toEqual({ kind: 'rebooting', locked: false });
    expect(runs).toBe(3);
    expect(clock.sleeps).toEqual([500, 1_000]);
    expect(reboots).toHaveLength(1);
  });

  it('does not reboot when etcd cannot confirm the place right before the reboot call', async () => {
    const { deps, reboots, lock, logs } = setup('etcd-lock');
    let prepared = 0;
    const keep = lock.keep.bind(lock);
    // etcd stops answering while the slot is armed, and answers again after one confirmation failed.
    lock.keep = (r) => {
      const answer = keep(r);
      lock.down = false;
      return answer;
    };
    const disarmed: string[] = [];
    const result = await coordinateReboot(deps, record, {
      arm: () => {
        if (++prepared === 1) lock.down = true;
        return Promise.resolve();
      },
      disarm: () => (disarmed.push('disarm'), Promise.resolve()),
    });
    expect(disarmed).toEqual(['disarm']);
    expect(result).toEqual({ kind: 'rebooting', locked: true });
    expect(logs).toContain('cannot confirm the reboot lock before the reboot call: not rebooting; asking again');
    expect(prepared).toBeGreaterThanOrEqual(2);
    expect(reboots).toHaveLength(1);
  });

  it('waits for block inhibitors holding its place, then reboots once they are gone', async () => {
    const { deps, reboots, lock, clock, block } = setup('etcd-lock');
    block(['backup-job (copying snapshots)']);
    let polls = 0;
    const rebooter = { ...deps.rebooter, blockers: async () => (++polls === 3 && block([]), deps.rebooter.blockers()) };
    expect(await coordinateReboot({ ...deps, rebooter }, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(clock.sleeps).toEqual([10_000, 10_000]);
    expect(lock.semaphore.holders).toEqual(['me']);
    expect(reboots).toHaveLength(1);
  });

  it('gives its place back when inhibitors outlast the inhibitor wait, and asks again later', async () => {
    const { deps, reboots, lock, clock, block, logs } = setup('etcd-lock');
    block(['backup-job (copying snapshots)']);
    let released = false;
    const release = lock.release.bind(lock);
    lock.release = (id) => {
      released = true;
      block([]); // the backup finishes while the place is back in the pool
      return release(id);
    };
    expect(await coordinateReboot({ ...deps, inhibitorWaitMs: 25_000 }, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(released).toBe(true);
    expect(clock.sleeps).toEqual([10_000, 10_000, 5_000, 500]);
    expect(logs).toContain('block inhibitors held the reboot back for the whole inhibitor wait: backup-job (copying snapshots)');
    expect(lock.calls.filter((c) => c.startsWith('acquire'))).toHaveLength(2);
    expect(reboots).toHaveLength(1);
  });

  it('reboots at once despite block inhibitors when the operator said --ignore-inhibitors', async () => {
    const { deps, reboots, clock, block } = setup('etcd-lock');
    block(['backup-job (copying snapshots)']);
    expect(await coordinateReboot({ ...deps, inhibitorWaitMs: null }, record)).toEqual({ kind: 'rebooting', locked: true });
    expect(clock.sleeps).toEqual([]);
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
