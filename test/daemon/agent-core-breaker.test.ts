// The agent's behaviour with the fleet store in a real etcd, on a real GPT disk image (sgdisk), time on
// a test clock: a staged release halted before the reboot is unstaged (the good slot boots next,
// nothing charged, the place given back); a host already on it stays; a resume lets the reboot go;
// an unreadable etcd cancels the reboot (fail-closed); each trial boot's outcome is recorded.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { AgentCore } from '../../agent/daemon/agent-core.ts';
import { EtcdFleetStore } from '../../agent/fleet/etcd-fleet-store.ts';
import { FleetAgent } from '../../agent/fleet/fleet-agent.ts';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { FileRecordStore, loadRecord, saveRecord } from '../../agent/update-io/state-file.ts';
import { advance, INITIAL_RECORD } from '../../agent/update/update-state.ts';
import { DEFAULT_SCHEDULE } from '../../agent/update/update-schedule.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { makeSmallSlotsImage, useTempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { AgentCoreDeps } from '../../agent/daemon/agent-core-deps.ts';
import type { FleetStore, UpdateOutcome } from '../../agent/fleet/fleet-store.ts';
import type { Health } from '../../agent/health/gate-verdict.ts';
import type { SlotAttributes } from '../builders/coreos-disk.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { UpdateRecord } from '../../agent/update/update-state.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server' });
const dir = useTempDir(skip);
let counter = 0;

const GOOD: SlotAttributes = { priority: 1, tries: 0, successful: true };
const TRIAL: SlotAttributes = { priority: 2, tries: 2, successful: false };
const USED_UP: SlotAttributes = { priority: 2, tries: 0, successful: false };
const EMPTY: SlotAttributes = { priority: 0, tries: 0, successful: false };
const START = '2026-11-22T12:00:00.000Z';

function stagedRecord(slot: string, version: string): UpdateRecord {
  let record = advance({ ...INITIAL_RECORD, slotVersions: { 'USR-A': '1.0.0' } }, { type: 'check-started' });
  record = advance(record, { type: 'update-found', target: { version, slot, manifestSha256: '00'.repeat(32) } });
  record = advance(record, { type: 'download-started', totalBytes: 1, chunksDone: 0, bytesDone: 0 });
  record = advance(record, { type: 'download-finished' });
  record = advance(record, { type: 'verified' });
  return advance(record, { type: 'staged', at: START });
}

describe.skipIf(skip !== null)(`${skip ?? ''} the agent and the circuit breaker in etcd`, () => {
  let etcd: EtcdServer;
  let client: EtcdGatewayClient;
  beforeAll(async () => {
    etcd = await startEtcd();
    client = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  interface SetUp {
    a: SlotAttributes;
    b: SlotAttributes;
    booted: 'USR-A' | 'USR-B';
    version: string;
    record?: UpdateRecord;
    health?: Health;
    /** The reboot takes its place (and arms) only once this settles. */
    lockTaken?: Promise<void>;
    /** The fleet store the agent uses (default: the real etcd, its own group). */
    store?: FleetStore;
  }

  async function setUp(options: SetUp) {
    const group = `g${counter}`;
    const path = join(dir(), `disk-${counter++}.img`);
    await makeSmallSlotsImage(path, options.a, options.b);
    const stateDir = join(dir(), `state-${counter}`);
    if (options.record) await saveRecord(stateDir, options.record);
    const clock = new TestClock(START);
    const store = new EtcdFleetStore(client, { group, outcomeTtlSeconds: 3600 });
    const logs: string[] = [];
    const log = (_fields: Record<string, unknown>, message: string): void => void logs.push(message);
    const fleet = new FleetAgent({ store: () => Promise.resolve(options.store ?? store), breaker: { failures: 3, fraction: 0.2 }, machineId: 'this-host', host: 'this', clock, reportEveryMs: 60_000, log });
    const chooser = new GptBootChooser(({ writable }) => FileBlockDevice.open(path, { writable }));
    const calls: string[] = [];
    const deps: AgentCoreDeps = {
      clock,
      random: () => 0.5,
      records: new FileRecordStore(stateDir),
      chooser,
      booted: { slot: { known: true, slot: options.booted, source: 'the test' }, version: options.version },
      updateOnce: () => Promise.resolve({ result: 'up-to-date', version: options.version, reason: 'running' }),
      plan: () => Promise.resolve({ action: 'none', version: options.version, reason: 'running', slot: 'USR-B' }),
      rebootUnderLock: async (version, _options, arming) => {
        calls.push(`reboot ${version}`);
        await options.lockTaken;
        await arming?.arm();
        calls.push('rebooting');
        return { kind: 'rebooting', locked: true };
      },
      tries: 3,
      keepPlace: () => null,
      releaseLock: () => {
        calls.push('release');
        return Promise.resolve('released');
      },
      lockView: () => Promise.resolve(null),
      firstBootPending: () => Promise.resolve(null),
      afterHealthy: () => Promise.resolve(),
      hookRuns: () => [],
      health: () => Promise.resolve(options.health ?? { healthy: true }),
      measureBaseline: () => undefined,
      lastGate: () => null,
      verity: () => Promise.resolve(null),
      schedule: DEFAULT_SCHEDULE,
      checks: true,
      strategy: 'etcd-lock',
      fleet,
      nextWindow: () => null,
      log,
    };
    const core = new AgentCore(deps);
    await core.start();
    await core.pin(null);
    return { core, calls, chooser, stateDir, store, logs };
  }

  const failedOn = (machineId: string, version = '1.0.2'): UpdateOutcome => ({ machineId, host: machineId, version, from: '1.0.0', result: 'gate-failed', reason: 'critical unit failed: app.service', at: START });

  /** 1.0.0 on USR-A with `version` staged in USR-B, its reboot waiting for the lock until `take()`. */
  async function stagedWaiting(version: string) {
    const taken = Promise.withResolvers<void>();
    const set = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', version), lockTaken: taken.promise });
    return { ...set, take: () => taken.resolve() };
  }

  it('unstages a staged release halted before its reboot: the good slot boots next, nothing charged or recorded here, the place given back', async () => {
    const { core, calls, chooser, stateDir, store, take } = await stagedWaiting('1.0.2');
    for (const id of ['m1', 'm2', 'm3']) await store.recordOutcome(failedOn(id));
    take();
    await vi.waitFor(() => expect(calls).toEqual(['reboot 1.0.2', 'release']));
    const boot = await chooser.read();
    expect(boot.next).toBe('USR-A');
    expect(boot.slots.find((s) => s.name === 'USR-A')).toMatchObject({ successful: true });
    expect(boot.slots.find((s) => s.name === 'USR-B')).toMatchObject({ priority: 0 });
    const { record } = await loadRecord(stateDir);
    expect(record).toMatchObject({ status: 'idle', target: null, skipped: [], failures: {} });
    expect(record.lastCheck?.result).toMatch(/^unstaged 1\.0\.2: 1\.0\.2 is halted fleet-wide by the circuit breaker: 3 of 3 hosts failed/);
    expect(await store.halt('1.0.2')).toMatchObject({ state: 'halted', by: 'breaker' });
    expect((await store.outcomes('1.0.2')).map((o) => o.machineId)).toEqual(['m1', 'm2', 'm3']);
    expect((await core.report()).breaker).toMatchObject({ state: 'on', halted: [{ version: '1.0.2', by: 'breaker' }] });
  });

  it('an operator\'s halt holds a staged reboot the same way; after a resume the next check reboots into it', async () => {
    const { core, calls, chooser, store, take } = await stagedWaiting('1.0.3');
    await store.setHalt({ version: '1.0.3', state: 'halted', by: 'operator', reason: 'investigating', at: START });
    // A check while the reboot waits unstages it at once, not only when the place comes.
    expect(await core.check()).toMatchObject({ result: 'up-to-date', reason: '1.0.3 is halted fleet-wide by an operator: investigating' });
    take();
    await vi.waitFor(() => expect(calls).toEqual(['reboot 1.0.3', 'release']));
    expect((await chooser.read()).next).toBe('USR-A');

    const again = await stagedWaiting('1.0.3');
    await again.store.setHalt({ version: '1.0.3', state: 'resumed', by: 'operator', reason: 'fixed', at: START });
    again.take();
    await vi.waitFor(() => expect(again.calls).toEqual(['reboot 1.0.3', 'rebooting']));
    expect((await again.chooser.read()).next).toBe('USR-B');
  });

  it('an unreadable etcd cancels the reboot and gives the place back (fail-closed); the release stays staged', async () => {
    const unreachable = new EtcdFleetStore(new EtcdGatewayClient({ connection: { ...etcd.connection(), endpoints: ['http://127.0.0.1:9'] }, tls: null, callTimeoutMs: 1_000, now: () => Date.now() }), { group: 'x', outcomeTtlSeconds: 60 });
    const taken = Promise.withResolvers<void>();
    const { calls, chooser, stateDir, logs } = await setUp({ a: GOOD, b: EMPTY, booted: 'USR-A', version: '1.0.0', record: stagedRecord('USR-B', '1.0.4'), lockTaken: taken.promise, store: unreachable });
    taken.resolve();
    await vi.waitFor(() => expect(calls).toEqual(['reboot 1.0.4', 'release']), { timeout: 10_000 });
    expect((await chooser.read()).next).toBe('USR-A');
    expect((await loadRecord(stateDir)).record).toMatchObject({ status: 'updated-need-reboot', target: { version: '1.0.4' } });
    expect(logs.join('\n')).toContain('reboot cancelled');
  });

  it('a host already running a halted release stays on it', async () => {
    const { core, calls, chooser, store } = await setUp({ a: GOOD, b: { ...GOOD, priority: 2 }, booted: 'USR-B', version: '1.0.5' });
    await store.setHalt({ version: '1.0.5', state: 'halted', by: 'breaker', reason: '3 of 3 hosts failed 1.0.5', at: START });
    expect(await core.check()).toMatchObject({ result: 'up-to-date' });
    expect(calls).toEqual(['release']);
    expect((await chooser.read()).next).toBe('USR-B');
    expect(core.status()).toMatchObject({ booted: { slot: 'USR-B', version: '1.0.5' }, health: 'confirmed', skipped: [] });
  });

  it('records each trial boot: succeeded, gate-failed with the gate\'s reason, and boot-failed found on the next boot', async () => {
    const passed = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.1', record: stagedRecord('USR-B', '1.0.1') });
    expect(await passed.store.outcomes('1.0.1')).toMatchObject([{ machineId: 'this-host', from: '1.0.0', result: 'succeeded', reason: null }]);
    // Recorded before the place is given back.
    expect(passed.calls).toEqual(['release']);

    const failed = await setUp({ a: GOOD, b: TRIAL, booted: 'USR-B', version: '1.0.2', record: stagedRecord('USR-B', '1.0.2'), health: { healthy: false, reason: 'critical unit failed: app.service' } });
    expect(await failed.store.outcomes('1.0.2')).toMatchObject([{ from: '1.0.0', result: 'gate-failed', reason: 'critical unit failed: app.service' }]);

    const fellBack = await setUp({ a: GOOD, b: USED_UP, booted: 'USR-A', version: '1.0.0', record: advance(stagedRecord('USR-B', '1.0.3'), { type: 'armed' }) });
    await vi.waitFor(() => expect(fellBack.calls).toEqual(['release']));
    expect(await fellBack.store.outcomes('1.0.3')).toMatchObject([{ from: '1.0.0', result: 'boot-failed', reason: 'its boot tries were used up' }]);
  });
});
