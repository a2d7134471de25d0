// The logind rebooter on a private real dbus-daemon, against a logind stand-in: it reboots through
// D-Bus and names the block inhibitors on shutdown, ignoring delay ones (the coordinator decides how
// long to wait for them).

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { LogindRebooter } from '../../agent/systemd/logind-rebooter.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { startFakeLogind } from '../fakes/fake-logind.ts';
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

const rebooter = (): LogindRebooter => new LogindRebooter({ bus: client });

describe.skipIf(skip !== null)(`${skip ?? ''} LogindRebooter`, () => {
  it('asks logind to reboot, non-interactively', async () => {
    await rebooter().reboot();
    expect(logind.manager.reboots).toEqual([false]);
  });

  it('names each block inhibitor on shutdown, who and why', async () => {
    logind.manager.inhibitors = [['shutdown:sleep', 'backup-job', 'copying snapshots', 'block', 0, 42]];
    expect(await rebooter().blockers()).toEqual(['backup-job (copying snapshots)']);
    logind.manager.inhibitors = [];
    expect(await rebooter().blockers()).toEqual([]);
  });

  it('does not count delay-mode or non-shutdown inhibitors', async () => {
    logind.manager.inhibitors = [
      ['shutdown', 'ModemManager', 'flush', 'delay', 0, 1],
      ['sleep', 'desktop', 'no suspend', 'block', 0, 2],
    ];
    expect(await rebooter().blockers()).toEqual([]);
  });
});
