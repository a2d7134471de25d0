// The D-Bus UnitStates adapter against the fake systemd on a private real dbus-daemon, through the
// contract a real systemd meets too, directly and through `slipway units --json` (the VM runs the
// contract through that command against real systemd).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { DbusUnitStates } from '../../agent/systemd/dbus-unit-states.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
import { cliUnitStates } from '../builders/cli-unit-states.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { unitStatesContract } from './unit-states-contract.ts';
import type { MessageBus } from 'dbus-next';
import type { DbusDaemon } from '../builders/dbus-daemon.ts';
import type { FakeSystemd } from '../fakes/fake-systemd.ts';

let daemon: DbusDaemon;
let fake: FakeSystemd;
let client: MessageBus;

beforeAll(async () => {
  daemon = await startDbusDaemon();
  fake = await startFakeSystemd(daemon.address, '/nonexistent');
  const m = fake.manager;
  const t = (n: number): bigint => BigInt(n) * 1_000_000n;
  m.setUnit('multi-user.target', { activeState: 'active', subState: 'active', conditionResult: true, conditionTimestamp: t(5), inactiveExitTimestamp: t(5) });
  m.setUnit('web.service', { activeState: 'active', subState: 'running', conditionResult: true, conditionTimestamp: t(3), inactiveExitTimestamp: t(3) });
  m.setUnit('loop.service', { activeState: 'activating', subState: 'auto-restart', result: 'exit-code', nRestarts: 4, conditionResult: true, conditionTimestamp: t(3), inactiveExitTimestamp: t(3) });
  m.setUnit('idle.service', {});
  m.setUnit('gone.service', {});
  m.setUnit('once.service', { conditionResult: true, conditionTimestamp: t(3), inactiveExitTimestamp: t(3) });
  m.setUnit('skipped.service', { conditionResult: false, conditionTimestamp: t(3) });
  m.setUnit('first.service', { activeState: 'active', subState: 'exited', conditionResult: true, conditionTimestamp: t(2), inactiveExitTimestamp: t(2) });
  m.setUnit('broken.service', { activeState: 'failed', subState: 'failed', result: 'exit-code', conditionResult: true, conditionTimestamp: t(3), inactiveExitTimestamp: t(3) });
  client = dbus.sessionBus({ busAddress: daemon.address });
});

afterAll(async () => {
  client.disconnect();
  fake.bus.disconnect();
  await daemon.stop();
});

const UNITS = { running: 'web.service', crashLooping: 'loop.service', neverStarted: 'idle.service', oneshotDone: 'once.service', unreferencedOneshotDone: 'gone.service', conditionFailed: 'skipped.service', ranWithCondition: 'first.service', failed: 'broken.service', missing: 'nothing-here.service' };
const slipwayOnBus = (args: readonly string[]) => runSlipway(args, { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: daemon.address } });

unitStatesContract('DbusUnitStates on the fake systemd', () => Promise.resolve({ states: new DbusUnitStates(client), units: UNITS }));
unitStatesContract('`slipway units --json` on the fake systemd', () => Promise.resolve({ states: cliUnitStates(slipwayOnBus), units: UNITS }));

describe('slipway units', () => {
  it('prints each unit with the verdict the health gate would give it', async () => {
    const run = await slipwayOnBus(['units', 'web.service', 'loop.service', 'broken.service']);
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')).toEqual([
      'web.service: ok — active (running) [loaded, active/running, result success, 0 restarts, condition passed]',
      'loop.service: pending — crash-looping: auto-restart, 4 restarts [loaded, activating/auto-restart, result exit-code, 4 restarts, condition passed]',
      'broken.service: failed — failed (exit-code) [loaded, failed/failed, result exit-code, 0 restarts, condition passed]',
      '',
    ]);
  });

  it('refuses no unit or a name that is not a unit name', async () => {
    expect(await slipwayOnBus(['units'])).toMatchObject({ code: 2, stderr: expect.stringContaining('name at least one unit') as unknown });
    expect(await slipwayOnBus(['units', 'a b'])).toMatchObject({ code: 2, stderr: expect.stringContaining('"a b" is not a unit name') as unknown });
  });
});
