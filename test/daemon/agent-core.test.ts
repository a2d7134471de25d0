// The agent's behaviour after boot and on operator requests, on a real GPT disk image (sgdisk) with
// the update path, the lock and the health check as recorded stand-ins and time on a test clock.

import { describe, expect, it, vi } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentCore } from '../../agent/daemon/agent-core.ts';
import { RebootCancelled } from '../../agent/daemon/agent-errors.ts';
import { CodedError } from '../../platform/coded-error.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { guardBootChooser } from '../../agent/slots/booted-guard.ts';
import { SlotError } from '../../agent/slots/slot-errors.ts';
import { FileRecordStore, FLOOR_FILE, loadRecord, saveRecord, STATE_FILE } from '../../agent/update-io/state-file.ts';
import { advance, INITIAL_RECORD } from '../../agent/update/update-state.ts';
import { DEFAULT_SCHEDULE } from '../../agent/update/update-schedule.ts';
import { makeSmallSlotsImage, useTempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { AgentCoreDeps } from '../../agent/daemon/agent-core-deps.ts';
import type { Health } from '../../agent/health/gate-verdict.ts';
import { BootHealth } from '../../agent/health/boot-health.ts';
import { FileHealthStore } from '../../agent/health-io/health-files.ts';
import { crashLoop, RUNNING, ScriptedUnits } from '../fakes/scripted-units.ts';
import type { UnitState } from '../../agent/health/health-ports.ts';
import type { BootedSlot } from '../../agent/slots/booted-slot.ts';
import type { SlotAttributes } from '../builders/coreos-disk.ts';
import type { UpdateRecord } from '../../agent/update/update-state.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);
let counter = 0;

const GOOD: SlotAttributes = { priority: 1, tries: 0, successful: true };
const TRIAL: SlotAttributes = { priority: 2, tries: 2, successful: false };
const USED_UP: SlotAttributes = { priority: 2, tries: 0, successful: false };
const EMPTY: SlotAttributes = { priority: 0, tries: 0, successful: false };

function stagedRecord(slot: string, version: string): UpdateRecord {
  let record = advance({ ...INITIAL_RECORD, slotVersions: { 'USR-A': '1.0.0' } }, { type: 'check-started' });
  record = advance(record, { type: 'update-found', target: { version, slot, manifestSha256: '00'.repeat(32) } });
  record = advance(record, { type: 'download-started', totalBytes: 1, chunksDone: 0, bytesDone: 0 });
  record = advance(record, { type: 'download-finished' });
  record = advance(record, { type: 'verified' });
  return advance(record, { type: 'staged', at: '2026-11-22T00:00:00.000Z' });
}

interface SetUpOptions {
  a: SlotAttributes;
  b: SlotAttributes;
  booted: 'USR-A' | 'USR-B' | null;
  version: string;
  record?: UpdateRecord;
  health?: Health;
  /** A real health gate on the agent's clock and state directory, instead of the recorded answer. */
  gate?: (clock: TestClock, stateDir: string) => BootHealth;
  stateDir?: string;
  lockTaken?: Promise<void>;
  loseAfterArming?: boolean;
  damage?: (stateDir: string) => Promise<void>;
}

async function setUp(options: SetUpOptions) {
  const path = join(dir(), `disk-${counter++}.img`);
  await makeSmallSlotsImage(path, options.a, options.b);
  const stateDir = options.stateDir ?? join(dir(), `state-${counter}`);
  const clock = new TestClock('2026-11-22T12:00:00Z');
  const gate = options.gate?.(clock, stateDir) ?? null;
  let measuring: Promise<unknown> = Promise.resolve();
  if (options.record) await saveRecord(stateDir, options.record);
  await options.damage?.(stateDir);
  const logs: string[] = [];
  const booted: BootedSlot = options.booted === null ? { known: false, error: new SlotError('ERR_BOOTED_SLOT_UNKNOWN', 'cannot tell which slot of the test disk is running') } : { known: true, slot: options.booted, source: 'the test' };
  // Guarded as the agent's is (update-path.ts): no change while the slot is unknown.
  const chooser = guardBootChooser(new GptBootChooser(({ writable }) => FileBlockDevice.open(path, { writable })), booted);
  const calls: string[] = [];
  const deps: AgentCoreDeps = {
    clock,
    random: () => 0.5,
    records: new FileRecordStore(stateDir),
    chooser,
    booted: { slot: booted, version: options.version },
    updateOnce: () => {
      calls.push('updateOnce');
      return Promise.resolve({ result: 'up-to-date', version: options.version, reason: 'running' });
    },
    plan: () => Promise.resolve({ action: 'none', version: options.version, reason: 'running', slot: 'USR-B' }),
    rebootUnderLock: async (version, { now }, arming) => {
      calls.push(`reboot ${version} now=${now}`);
      // The real one runs it holding the lock, just before logind's Reboot.
      await options.lockTaken;
      await arming?.arm();
      if (options.loseAfterArming === true) {
        // etcd says the place is gone right before the reboot call: the coordinator disarms and asks again.
        calls.push('disarm');
        await arming?.disarm();
        return new Promise<never>(() => undefined);
      }
      return { kind: 'rebooting', locked: true };
    },
    tries: 3,
    keepPlace: () => {
      calls.push('keep place');
      return { lost: false, stop: () => calls.push('stop keeping') };
    },
    releaseLock: () => {
      calls.push('release');
      return Promise.resolve('released');
    },
    lockView: () => Promise.resolve({ max: 1, holders: ['this-host'], heldByThisHost: true }),
    firstBootPending: () => Promise.resolve(null),
    afterHealthy: () => {
      calls.push('after-healthy hooks');
      return Promise.resolve();
    },
    hookRuns: () => [],
    health: async (previous) => {
      calls.push('health');
      if (gate === null) return options.health ?? { healthy: true };
      const verdict = await gate.gate(options.version, previous);
      return verdict.healthy === true ? { healthy: true } : { healthy: false, reason: verdict.reason ?? '' };
    },
    measureBaseline: () => {
      if (gate !== null) measuring = gate.measureBaseline(options.version);
    },
    lastGate: () => gate?.lastGate() ?? null,
    verity: () => Promise.resolve(null),
    schedule: DEFAULT_SCHEDULE,
    checks: true,
    strategy: 'etcd-lock',
    fleet: null,
    nextWindow: () => null,
    log: (_fields, message) => logs.push(message),
  };
  const core = new AgentCore(deps);
  await core.start();
  // Let the health gate (or the release) finish.
  await core.pin(null);
  await measuring;
  return { core, calls, chooser, stateDir, logs, deps, clock };
}

/** 1.0.0 running with 1.0.2 staged in USR-B, its reboot waiting for the lock until `lockTaken()`. */
async function stagedWaitingForLock() {
  let lockTaken = (): void => undefined;
  const taken = new Promise<void>((resolve) => (lockTaken = resolve));
  const set = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', '1.0.2'), lockTaken: taken });
  return { ...set, lockTaken };
}

describe.skipIf(skip !== null)(`${skip ?? ''} agent after boot`, () => {
  it('confirms a healthy trial boot: keeps its place through the gate, marks the slot good, then releases the lock, and finishes the update', async () => {
    const { core, calls, chooser, stateDir } = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.1', record: stagedRecord('USR-B', '1.0.1') });
    // The after-healthy hooks run holding the place: the next host drains only once this one serves again.
    expect(calls).toEqual(['keep place', 'health', 'after-healthy hooks', 'stop keeping', 'release']);
    const state = await chooser.read();
    expect(state.slots.find((s) => s.name === 'USR-B')).toMatchObject({ successful: true });
    expect(core.status()).toMatchObject({ state: 'idle', health: 'confirmed', booted: { slot: 'USR-B', version: '1.0.1' } });
    expect(core.status().slots.map((s) => [s.name, s.version, s.booted])).toEqual([
      ['USR-A', '1.0.0', false],
      ['USR-B', '1.0.1', true],
    ]);
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'idle', target: null });
  });

  it('rolls back an unhealthy trial boot: skips the version, boots the good slot next, reboots holding (and keeping) the lock', async () => {
    const { core, calls, chooser, stateDir } = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.2', record: stagedRecord('USR-B', '1.0.2'), health: { healthy: false, reason: 'critical unit failed: app.service' } });
    await Promise.resolve();
    expect(calls).toEqual(['keep place', 'health', 'reboot 1.0.0 now=true']);
    const state = await chooser.read();
    expect(state.next).toBe('USR-A');
    expect(state.slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 0, successful: false });
    expect((await loadRecord(stateDir)).record.skipped).toEqual([{ version: '1.0.2', reason: 'failed its health gate: critical unit failed: app.service' }]);
    expect((await loadRecord(stateDir)).record.failures).toEqual({ '1.0.2': 1 });
    expect(core.status().health).toBe('failed');
    await expect(core.check()).rejects.toMatchObject({ code: 'ERR_NOT_CONFIRMED' });
  });

  it('both slots bad: a trial boot that fails its gate while the other slot is not good stays up, asks for no reboot (now or after a restart), and says why', async () => {
    for (const a of [EMPTY, USED_UP]) {
      const health = { healthy: false, reason: 'critical unit failed: app.service' } as const;
      const { core, calls, chooser, stateDir, deps } = await setUp({ a, b: TRIAL, booted: 'USR-B', version: '1.0.2', record: stagedRecord('USR-B', '1.0.2'), health });
      await Promise.resolve();
      expect(calls).toEqual(['keep place', 'health']);
      // The running slot is the only one that can boot: it stays bootable, and nothing else is tried.
      const state = await chooser.read();
      expect(state.slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 2, successful: false });
      expect(state.slots.find((s) => s.name === 'USR-A')).toMatchObject(a);
      const reason = 'failed its health gate: critical unit failed: app.service; USR-A is not a good slot to go back to, so 1.0.2 stays running without a reboot';
      expect((await loadRecord(stateDir)).record.skipped).toEqual([{ version: '1.0.2', reason }]);
      expect(core.status()).toMatchObject({ activity: 'idle', health: 'failed', skipped: [{ version: '1.0.2', reason }] });
      await expect(core.check()).rejects.toMatchObject({ code: 'ERR_NOT_CONFIRMED' });
      await expect(core.rebootIfNeeded(false)).resolves.toBe(false);
      expect(calls).toEqual(['keep place', 'health']);
      // Restarted (systemd, or someone rebooting into the same slot): the same verdict, still no reboot.
      const again = new AgentCore(deps);
      await again.start();
      await again.pin(null);
      expect(calls).toEqual(['keep place', 'health', 'keep place', 'health']);
      expect(again.status()).toMatchObject({ activity: 'idle', health: 'failed', skipped: [{ version: '1.0.2', reason }] });
      expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 2, successful: false });
    }
  });

  it('notices a staged release whose boot tries ran out, skips it, and releases the lock', async () => {
    const { calls, chooser, stateDir } = await setUp({ a: GOOD, b: USED_UP, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', '1.0.3') });
    expect(calls).toEqual(['release']);
    const record = (await loadRecord(stateDir)).record;
    expect(record).toMatchObject({ status: 'idle', skipped: [{ version: '1.0.3', reason: 'did not boot: its boot tries were used up' }] });
    expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 0 });
  });

  it('tells an armed slot that used up its tries (ranked 0, as grubenv shows it) from one never armed', async () => {
    const armed = advance(stagedRecord('USR-B', '1.0.1'), { type: 'armed' });
    const { calls, stateDir } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: armed });
    expect(calls).toEqual(['release']);
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'idle', skipped: [{ version: '1.0.1', reason: 'did not boot: its boot tries were used up' }] });
  });

  it('disarms the staged slot when the place is lost between arming and the reboot call: the good slot boots next, nothing reads as a failed boot', async () => {
    const { calls, chooser, stateDir } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', '1.0.1'), loseAfterArming: true });
    await vi.waitFor(() => expect(calls).toEqual(['reboot 1.0.1 now=false', 'disarm']));
    await vi.waitFor(async () => expect((await chooser.read()).next).toBe('USR-A'));
    expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ tries: 3, successful: false });
    // After a cut now, the next start resumes the staged reboot rather than skipping 1.0.1.
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'updated-need-reboot', target: { version: '1.0.1', armed: true } });
  });

  it('resumes a staged reboot after the agent restarts before rebooting, arming the slot only then', async () => {
    // Staged but not armed (the host lost power before its coordinated reboot): USR-B is unbootable.
    // A place taken before the cut is kept for this reboot: no release races its acquire.
    const { calls, chooser } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', '1.0.1') });
    expect(calls).toEqual(['reboot 1.0.1 now=false']);
    await vi.waitFor(async () => expect((await chooser.read()).next).toBe('USR-B'));
    expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ tries: 3, successful: false });
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} a damaged state file`, () => {
  // 1.0.2 was staged (accepted) and rolled back from (skipped); 1.0.0 runs again on USR-A.
  const rolledBack = (): UpdateRecord => advance(stagedRecord('USR-B', '1.0.2'), { type: 'boot-failed', reason: 'failed its health gate', at: '2026-11-22T01:00:00.000Z' });
  const wrongTypes = (stateDir: string): Promise<void> => writeFile(join(stateDir, STATE_FILE), JSON.stringify({ ...rolledBack(), highestAccepted: 5, skipped: 'x' }));

  it('starts from the floor copy when the record has wrong types: no crash, the problem logged, the floor and skipped list kept', async () => {
    const { core, stateDir, logs } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: rolledBack(), damage: wrongTypes });
    expect(core.status()).toMatchObject({ state: 'idle', health: 'confirmed' });
    expect(logs.join('\n')).toContain('record.highestAccepted must be a version, not 5');
    expect((await loadRecord(stateDir)).record).toMatchObject({ highestAccepted: '1.0.2', skipped: [{ version: '1.0.2', reason: 'failed its health gate' }] });
  });

  it('rebuilds the floor from the running version when both copies are lost', async () => {
    const bothLost = async (stateDir: string): Promise<void> => {
      await wrongTypes(stateDir);
      await writeFile(join(stateDir, FLOOR_FILE), '{"schema": 1, "highestAcc');
    };
    const { core, stateDir, logs } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: rolledBack(), damage: bothLost });
    expect(core.status()).toMatchObject({ state: 'idle', health: 'confirmed' });
    expect(logs.join('\n')).toContain('the floor rebuilt from the running version');
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'idle', highestAccepted: '1.0.0', skipped: [], slotVersions: { 'USR-A': '1.0.0' } });
  });
});

/** The real health gate over scripted units, watching app.service and legacy.service as workloads. */
function workloads(script: Record<string, UnitState | ((ms: number) => UnitState)>, logs: string[] = []) {
  return (clock: TestClock, stateDir: string): BootHealth =>
    new BootHealth({
      units: new ScriptedUnits(clock, script),
      probes: { run: () => Promise.reject(new Error('no probes configured')) },
      clock,
      store: new FileHealthStore(stateDir),
      settings: { timeoutMs: 300_000, pollMs: 2_000, settleMs: 30_000, criticalUnits: [], workloadUnits: ['app.service', 'legacy.service'], probes: [] },
      log: (_fields, message) => logs.push(message),
    });
}

const BROKEN: UnitState = { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'exit-code' };

describe.skipIf(skip !== null)(`${skip ?? ''} health gate with workloads`, () => {
  it('rolls back a trial boot whose workload crash-loops, recording what failed as the reason', async () => {
    const logs: string[] = [];
    const { core, calls, chooser, stateDir } = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.2', record: stagedRecord('USR-B', '1.0.2'), gate: workloads({ 'app.service': crashLoop(10_000), 'legacy.service': RUNNING }, logs) });
    expect(calls).toEqual(['keep place', 'health', 'reboot 1.0.0 now=true']);
    expect((await chooser.read()).next).toBe('USR-A');
    const reason = 'failed its health gate: app.service crash-looping: auto-restart, 31 restarts';
    expect((await loadRecord(stateDir)).record.skipped).toEqual([{ version: '1.0.2', reason }]);
    const { lastGate } = await core.report();
    expect(lastGate).toMatchObject({ kind: 'gate', version: '1.0.2', healthy: false, baselineVersion: null });
    expect(lastGate?.units).toContainEqual({ name: 'app.service', source: 'workload', activeState: 'activating', subState: 'auto-restart', result: 'exit-code', restarts: 31, verdict: 'failed', reason: 'crash-looping: auto-restart, 31 restarts' });
    expect(logs).toContain('health gate of 1.0.2: app.service failed: crash-looping: auto-restart, 31 restarts');
  });

  it('does not fail a release for a workload already broken on the last good boot: measured there, pre-existing here', async () => {
    const stateDir = join(dir(), `state-baseline-${counter}`);
    // The confirmed boot of 1.0.0 measures its baseline: legacy.service is failed there.
    await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', stateDir, gate: workloads({ 'app.service': RUNNING, 'legacy.service': BROKEN }) });
    // 1.0.1 on trial, with legacy.service as broken as before.
    const { core, calls, chooser } = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.1', record: stagedRecord('USR-B', '1.0.1'), stateDir, gate: workloads({ 'app.service': RUNNING, 'legacy.service': BROKEN }) });
    expect(calls).toEqual(['keep place', 'health', 'after-healthy hooks', 'stop keeping', 'release']);
    expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ successful: true });
    const { lastGate } = await core.report();
    expect(lastGate).toMatchObject({ healthy: true, baselineVersion: '1.0.0' });
    expect(lastGate?.units.find((u) => u.name === 'legacy.service')).toMatchObject({ verdict: 'pre-existing', reason: 'failed (exit-code) (already so on 1.0.0)' });
  });

  it('blames the release when the baseline is of another version than the one it replaced', async () => {
    const stateDir = join(dir(), `state-other-${counter}`);
    await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '0.9.0', stateDir, gate: workloads({ 'app.service': RUNNING, 'legacy.service': BROKEN }) });
    const { stateDir: used } = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.1', record: stagedRecord('USR-B', '1.0.1'), stateDir, gate: workloads({ 'app.service': RUNNING, 'legacy.service': BROKEN }) });
    expect((await loadRecord(used)).record.skipped).toEqual([{ version: '1.0.1', reason: 'failed its health gate: legacy.service failed (exit-code)' }]);
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} operator requests`, () => {
  it('rolls back to a good slot, skipping the version rolled back from, and refuses when the other slot never booted', async () => {
    const good = await setUp({ a: GOOD, b: GOOD, booted: 'USR-B', version: '1.0.1', record: { ...INITIAL_RECORD, slotVersions: { 'USR-A': '1.0.0' } } });
    const status = await good.core.rollback(true);
    expect(status.slots.find((s) => s.next)?.name).toBe('USR-A');
    expect(status.skipped).toEqual([{ version: '1.0.1', reason: 'rolled back by an operator', failures: 0 }]);
    expect(good.calls.at(-1)).toBe('reboot 1.0.0 now=true');

    const fresh = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0' });
    await expect(fresh.core.rollback(false)).rejects.toMatchObject({ code: 'ERR_ROLLBACK_TARGET_NOT_GOOD' });
  });

  it('pins and unpins, persisted', async () => {
    const { core, stateDir } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0' });
    expect((await core.pin('1.0.1')).pinned).toBe('1.0.1');
    expect((await loadRecord(stateDir)).record.pinned).toBe('1.0.1');
    expect((await core.pin(null)).pinned).toBeNull();
  });

  it('checks once on request and reports each change to listeners', async () => {
    const { core, calls } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0' });
    const activities: string[] = [];
    core.onChange((status) => activities.push(status.activity));
    expect(await core.check()).toEqual({ result: 'up-to-date', version: '1.0.0', reason: 'running' });
    expect(calls.at(-1)).toBe('updateOnce');
    expect(activities).toEqual(['checking', 'idle']);
  });

  it('reports the fleet lock with the status, and a lock it cannot read as an error', async () => {
    const { core } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0' });
    expect((await core.report()).lock).toEqual({ max: 1, holders: ['this-host'], heldByThisHost: true });
  });

  it('unstages an update waiting for the lock when pinned to another version, and gives back the lock it then gets', async () => {
    const { core, calls, chooser, stateDir, lockTaken } = await stagedWaitingForLock();
    expect(calls).toEqual(['reboot 1.0.2 now=false']);
    const status = await core.pin('1.0.0');
    expect(status).toMatchObject({ state: 'idle', target: null, pinned: '1.0.0' });
    expect((await chooser.read()).next).toBe('USR-A');
    lockTaken();
    await vi.waitFor(() => expect(calls).toEqual(['reboot 1.0.2 now=false', 'release']));
    expect((await chooser.read()).slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 0, tries: 0, successful: false });
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'idle', target: null, pinned: '1.0.0' });
    expect(core.status().activity).toBe('idle');
  });

  it('checks while a reboot waits for the lock, says it is waiting again after, and asks for no second reboot', async () => {
    const { core, calls, lockTaken } = await stagedWaitingForLock();
    const activities: string[] = [];
    core.onChange((status) => activities.push(status.activity));
    await core.check();
    expect(activities).toEqual(['checking', 'waiting-to-reboot']);
    lockTaken();
    await vi.waitFor(() => expect(core.status().activity).toBe('rebooting'));
    expect(calls).toEqual(['reboot 1.0.2 now=false', 'updateOnce']);
  });

  it('keeps a staged update pinned to its own version and reboots into it', async () => {
    const { core, calls, chooser, lockTaken } = await stagedWaitingForLock();
    await core.pin('1.0.2');
    lockTaken();
    await vi.waitFor(() => expect(core.status().activity).toBe('rebooting'));
    expect((await chooser.read()).next).toBe('USR-B');
    expect(core.status()).toMatchObject({ state: 'updated-need-reboot', pinned: '1.0.2' });
    expect(calls).toEqual(['reboot 1.0.2 now=false']);
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} booted slot unknown`, () => {
  it('stays in slot-unknown: status says why, checks and changes are refused, the disk is untouched, no health gate or lock', async () => {
    // B on trial and staged: the old guess (the good slot ranked highest) would have said A.
    const { core, calls, chooser, stateDir } = await setUp({ a: GOOD, b: TRIAL, booted: null, version: '1.0.1', record: stagedRecord('USR-B', '1.0.1') });
    const before = await chooser.read();
    expect(core.status()).toMatchObject({
      activity: 'slot-unknown',
      health: 'unknown',
      booted: { slot: null, version: '1.0.1' },
      bootedUnknown: { code: 'ERR_BOOTED_SLOT_UNKNOWN', message: 'cannot tell which slot of the test disk is running' },
    });
    expect(core.status().slots.some((s) => s.booted)).toBe(false);
    await expect(core.check()).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    await expect(core.rollback(true)).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    await expect(core.rebootIfNeeded()).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    // A pin that would unstage must make the staged slot unbootable: refused, and nothing recorded.
    await expect(core.pin('1.0.0')).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'updated-need-reboot', pinned: null });
    expect(await chooser.read()).toEqual(before);
    expect(calls).toEqual([]);
    expect((await core.report()).lock).toEqual({ max: 1, holders: ['this-host'], heldByThisHost: true });
  });
});

describe('RebootCancelled', () => {
  it('is a coded error that keeps its cause', () => {
    const cause = new Error('pinned to 1.0.0');
    const error = new RebootCancelled('1.0.2 is no longer staged', { cause });
    expect(error).toBeInstanceOf(CodedError);
    expect(error).toMatchObject({ code: 'ERR_REBOOT_CANCELLED', name: 'RebootCancelled', message: '1.0.2 is no longer staged', cause });
  });
});
