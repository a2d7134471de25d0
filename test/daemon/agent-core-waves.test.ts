// The agent's periodic checks and a release waiting for this host's rollout wave, on a real GPT disk
// image (sgdisk) with the update path as a recorded stand-in and time on a test clock: the check after
// a wait comes back at the moment the wave opens (not an interval later), status says until when, and
// only an operator's apply-now tells the update path to take it regardless.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AgentCore } from '../../agent/daemon/agent-core.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { FileRecordStore } from '../../agent/update-io/state-file.ts';
import { DEFAULT_SCHEDULE } from '../../agent/update/update-schedule.ts';
import { makeSmallSlotsImage, useTempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentCoreDeps } from '../../agent/daemon/agent-core-deps.ts';
import type { Clock } from '../../platform/clock.ts';
import type { UpdateOutcome } from '../../agent/update/run-update-once.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.parse('2026-12-03T12:00:00.000Z');

/** A test clock whose sleeps move time at once, until `stopAfter` of them: that one never ends (run() parks there). */
function parkingClock(stopAfter: number): Clock & { sleeps: number[]; parked: Promise<void> } {
  let at = START;
  const sleeps: number[] = [];
  const parked = Promise.withResolvers<void>();
  return {
    sleeps,
    parked: parked.promise,
    now: () => new Date(at),
    sleep: (ms) => {
      sleeps.push(ms);
      if (sleeps.length >= stopAfter) {
        parked.resolve();
        return new Promise<void>(() => undefined);
      }
      at += ms;
      return Promise.resolve();
    },
  };
}

async function agentWith(clock: Clock, outcomes: UpdateOutcome[]) {
  const disk = join(dir(), `disk-${Math.random().toString(16).slice(2)}.img`);
  await makeSmallSlotsImage(disk, { priority: 1, tries: 0, successful: true }, { priority: 0, tries: 0, successful: false });
  const passes: { at: string; ignoreWave: boolean }[] = [];
  const deps: AgentCoreDeps = {
    clock,
    random: () => 0.5,
    records: new FileRecordStore(join(disk, '..', `state-${Math.random().toString(16).slice(2)}`)),
    chooser: new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable })),
    booted: { slot: { known: true, slot: 'USR-A', source: 'the test' }, version: '1.0.0' },
    updateOnce: (_onRecord, ignoreWave) => {
      passes.push({ at: clock.now().toISOString(), ignoreWave });
      return Promise.resolve(outcomes.shift() ?? { result: 'up-to-date', version: '1.0.0', reason: '1.0.0 is running' });
    },
    plan: () => Promise.resolve({ action: 'none', version: '1.0.0', reason: 'running', slot: 'USR-B' }),
    fleet: null,
    rebootUnderLock: () => new Promise<never>(() => undefined),
    keepPlace: () => null,
    tries: 3,
    releaseLock: () => Promise.resolve('not-held'),
    lockView: () => Promise.resolve(null),
    health: () => Promise.resolve({ healthy: true }),
    measureBaseline: () => undefined,
    lastGate: () => null,
    verity: () => Promise.resolve(null),
    firstBootPending: () => Promise.resolve(null),
    afterHealthy: () => Promise.resolve(),
    hookRuns: () => [],
    schedule: DEFAULT_SCHEDULE,
    checks: true,
    strategy: 'etcd-lock',
    nextWindow: () => null,
    log: () => undefined,
  };
  const core = new AgentCore(deps);
  await core.start();
  return { core, passes };
}

const waiting = (until: number): UpdateOutcome => ({
  result: 'waiting',
  reason: `1.0.1 waits for its wave until ${new Date(until).toISOString()} (wave 2 of 3)`,
  version: '1.0.1',
  until: new Date(until).toISOString(),
  position: 0.42,
  wave: 2,
  waves: 3,
});

describe.skipIf(skip !== null)(`${skip ?? ''} the agent's checks and a rollout wave`, () => {
  it('comes back at the moment the wave opens, not an interval later, and reports the wait until then', async () => {
    const T = START + 5 * MINUTE + 20 * MINUTE;
    const clock = parkingClock(3);
    const { core, passes } = await agentWith(clock, [waiting(T)]);
    const statuses: unknown[] = [];
    core.onChange((status) => statuses.push(status.wave));
    void core.run();
    await clock.parked;
    // The first check after 5 minutes finds the release waiting; the next comes at T (20 minutes), then an interval.
    expect(clock.sleeps).toEqual([5 * MINUTE, 20 * MINUTE, 60 * MINUTE]);
    expect(passes).toEqual([
      { at: new Date(START + 5 * MINUTE).toISOString(), ignoreWave: false },
      { at: new Date(T).toISOString(), ignoreWave: false },
    ]);
    expect(statuses).toContainEqual({ version: '1.0.1', until: new Date(T).toISOString(), position: 0.42, wave: 2, waves: 3 });
    // Once the release is no longer waiting, neither is the status.
    expect(core.status().wave).toBeNull();
  });

  it('keeps the regular interval when the wave opens later than the next check', async () => {
    const clock = parkingClock(3);
    const { core, passes } = await agentWith(clock, [waiting(START + 10 * HOUR), waiting(START + 10 * HOUR)]);
    void core.run();
    await clock.parked;
    expect(clock.sleeps).toEqual([5 * MINUTE, HOUR, HOUR]);
    expect(passes).toHaveLength(2);
    expect(core.status().wave).toMatchObject({ until: new Date(START + 10 * HOUR).toISOString() });
  });

  it('takes a waiting release only when an operator applies it now', async () => {
    const clock = parkingClock(1);
    const { core, passes } = await agentWith(clock, [waiting(START + 6 * HOUR)]);
    await expect(core.check()).resolves.toMatchObject({ result: 'waiting' });
    expect(core.status().wave).toMatchObject({ version: '1.0.1', wave: 2 });
    await core.check({ rebootNow: true });
    expect(passes.map((p) => p.ignoreWave)).toEqual([false, true]);
    expect(core.status().wave).toBeNull();
  });
});
