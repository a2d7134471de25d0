// The logind rebooter on a private real dbus-daemon, against a logind stand-in: it reboots through
// D-Bus, waits for block inhibitors while reporting them, ignores delay ones, and an operator may
// override.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { LogindRebooter } from '../../agent/systemd/logind-rebooter.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { startFakeLogind } from '../fakes/fake-logind.ts';
import { TestClock } from '../fakes/test-clock.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { DbusDaemon } from '../builders/dbus-daemon.ts';
import type { MessageBus } from 'dbus-next';

const skip = missingTools({ 'dbus-daemon': 'dbus-daemon' });
let daemon: DbusDaemon;
let logind: Awaited<ReturnType<typeof startFakeLogind>>;
let client: MessageBus;
beforeAll(async () => {
  if (skip !== null) return;
  daemon = await startDbusDaemon();
  logind = await startFakeLogind(daemon.address);
  client = dbus.sessionBus({ busAddress: daemon.address });
});
afterAll(async () => {
  if (skip !== null) return;
  client.disconnect();
  logind.bus.disconnect();
  await daemon.stop();
});
beforeEach(() => {
  if (skip !== null) return;
  logind.manager.inhibitors = [];
  logind.manager.reboots = [];
});

function rebooter(ignoreInhibitors = false, onWait?: () => void) {
  const clock = new TestClock('2026-11-24T12:00:00Z');
  const logs: string[] = [];
  const r = new LogindRebooter({
    bus: client,
    clock: { now: () => clock.now(), sleep: async (ms) => (onWait?.(), clock.sleep(ms)) },
    ignoreInhibitors,
    pollMs: 10_000,
    log: (_fields, message) => logs.push(message),
  });
  return { r, clock, logs };
}

describe.skipIf(skip !== null)(`${skip ?? ''} LogindRebooter`, () => {
  it('asks logind to reboot, non-interactively', async () => {
    await rebooter().r.reboot();
    expect(logind.manager.reboots).toEqual([false]);
  });

  it('waits while a block inhibitor holds shutdown, reporting it, and reboots once it is gone', async () => {
    logind.manager.inhibitors = [['shutdown:sleep', 'backup-job', 'copying snapshots', 'block', 0, 42]];
    let waits = 0;
    const { r, clock, logs } = rebooter(false, () => {
      if (++waits === 2) logind.manager.inhibitors = [];
    });
    await r.reboot();
    expect(clock.sleeps).toEqual([10_000, 10_000]);
    expect(logs[0]).toBe('reboot waits for backup-job (copying snapshots)');
    expect(logind.manager.reboots).toEqual([false]);
  });

  it('does not wait for delay-mode or non-shutdown inhibitors', async () => {
    logind.manager.inhibitors = [
      ['shutdown', 'ModemManager', 'flush', 'delay', 0, 1],
      ['sleep', 'desktop', 'no suspend', 'block', 0, 2],
    ];
    const { r, clock } = rebooter();
    await r.reboot();
    expect(clock.sleeps).toEqual([]);
    expect(logind.manager.reboots).toEqual([false]);
  });

  it('reboots despite a block inhibitor when the operator overrides', async () => {
    logind.manager.inhibitors = [['shutdown', 'backup-job', 'copying', 'block', 0, 42]];
    const { r, clock } = rebooter(true);
    await r.reboot();
    expect(clock.sleeps).toEqual([]);
    expect(logind.manager.reboots).toEqual([false]);
  });
});
