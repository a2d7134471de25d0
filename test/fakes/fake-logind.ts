// A logind stand-in on a real (private) bus: org.freedesktop.login1.Manager with ListInhibitors and
// Reboot, recording reboots and serving whatever inhibitors the test sets.

import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';

type InhibitorRow = [string, string, string, string, number, number];

class Manager extends dbus.interface.Interface {
  inhibitors: InhibitorRow[] = [];
  reboots: boolean[] = [];

  ListInhibitors(): InhibitorRow[] {
    return this.inhibitors;
  }

  Reboot(interactive: boolean): void {
    this.reboots.push(interactive);
  }
}

Manager.configureMembers({
  methods: {
    ListInhibitors: { outSignature: 'a(ssssuu)' },
    Reboot: { inSignature: 'b' },
  },
});

export async function startFakeLogind(address: string): Promise<{ manager: Manager; bus: MessageBus }> {
  const bus = dbus.sessionBus({ busAddress: address });
  const manager = new Manager('org.freedesktop.login1.Manager');
  bus.export('/org/freedesktop/login1', manager);
  await bus.requestName('org.freedesktop.login1', 0);
  return { manager, bus };
}
