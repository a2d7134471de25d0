// The D-Bus UnitStates adapter against the fake systemd on a private real dbus-daemon, through the
// contract a real systemd meets too (the VM runs the same suite against it).

import { afterAll, beforeAll } from 'vitest';
import dbus from 'dbus-next';
import { DbusUnitStates } from '../../agent/systemd/dbus-unit-states.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
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

unitStatesContract('DbusUnitStates on the fake systemd', () =>
  Promise.resolve({
    states: new DbusUnitStates(client),
    units: { running: 'web.service', crashLooping: 'loop.service', neverStarted: 'idle.service', oneshotDone: 'once.service', conditionFailed: 'skipped.service', ranWithCondition: 'first.service', failed: 'broken.service', missing: 'nothing-here.service' },
  }),
);
