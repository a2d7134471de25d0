// Rebooter adapter on logind over D-Bus: org.freedesktop.login1.Manager.Reboot, after waiting for
// "block" shutdown inhibitors to go away (reporting who holds them), unless an operator overrides.

import type { MessageBus } from 'dbus-next';
import type { Clock } from '../../platform/clock.ts';
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
  readonly clock: Clock;
  /** Reboot even while block inhibitors are held (an operator asked for it). */
  readonly ignoreInhibitors: boolean;
  readonly pollMs: number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
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

  async reboot(): Promise<void> {
    for (;;) {
      const blocking = await this.blockingInhibitors();
      if (blocking.length === 0 || this.settings.ignoreInhibitors) break;
      this.settings.log({ inhibitors: blocking }, `reboot waits for ${blocking.map((i) => `${i.who} (${i.why})`).join(', ')}`);
      await this.settings.clock.sleep(this.settings.pollMs);
    }
    await (await this.manager()).Reboot(false);
  }
}
