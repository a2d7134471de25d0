// Rebooter adapter on logind over D-Bus: who holds "block" shutdown inhibitors (ListInhibitors), and
// org.freedesktop.login1.Manager.Reboot.

import type { MessageBus } from 'dbus-next';
import type { Rebooter } from '../lock/reboot-coordinator.ts';

const LOGIND = 'org.freedesktop.login1';
const MANAGER_PATH = '/org/freedesktop/login1';
const MANAGER = 'org.freedesktop.login1.Manager';

export interface Inhibitor {
  readonly what: string;
  readonly who: string;
  readonly why: string;
  readonly mode: string;
}

export interface LogindRebooterSettings {
  readonly bus: MessageBus;
}

export class LogindRebooter implements Rebooter {
  private readonly settings: LogindRebooterSettings;

  constructor(settings: LogindRebooterSettings) {
    this.settings = settings;
  }

  private async manager(): Promise<{ ListInhibitors: () => Promise<unknown>; Reboot: (interactive: boolean) => Promise<unknown> }> {
    const object = await this.settings.bus.getProxyObject(LOGIND, MANAGER_PATH);
    return object.getInterface(MANAGER) as unknown as { ListInhibitors: () => Promise<unknown>; Reboot: (interactive: boolean) => Promise<unknown> };
  }

  /** Shutdown inhibitors in "block" mode: the ones logind would make a reboot wait for. */
  async blockingInhibitors(): Promise<Inhibitor[]> {
    const rows = (await (await this.manager()).ListInhibitors()) as [string, string, string, string, number, number][];
    return rows
      .map(([what, who, why, mode]) => ({ what, who, why, mode }))
      .filter((i) => i.mode === 'block' && i.what.split(':').includes('shutdown'));
  }

  async blockers(): Promise<readonly string[]> {
    return (await this.blockingInhibitors()).map((i) => `${i.who} (${i.why})`);
  }

  /** Asks logind to reboot now; how long to wait for inhibitors first is the coordinator's decision. */
  async reboot(): Promise<void> {
    await (await this.manager()).Reboot(false);
  }
}
