// SystemdBus adapter on systemd's D-Bus API (org.freedesktop.systemd1.Manager) with dbus-next:
// unit jobs are queued with mode "replace" and awaited through the JobRemoved signal.

import { SystemdError } from './systemd-errors.ts';
import type { ClientInterface, MessageBus } from 'dbus-next';
import type { JobResult, SystemdBus, UnitCommand } from '../../cloud-config/systemd-bus.ts';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';

const METHOD: Record<UnitCommand, string> = {
  start: 'StartUnit',
  stop: 'StopUnit',
  restart: 'RestartUnit',
  reload: 'ReloadUnit',
  'try-restart': 'TryRestartUnit',
  'reload-or-restart': 'ReloadOrRestartUnit',
  'reload-or-try-restart': 'ReloadOrTryRestartUnit',
};

type Manager = ClientInterface & Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;

/** Calls a Manager method, refusing a systemd that lacks it rather than skipping the call. */
function call(manager: Manager, method: string, ...args: unknown[]): Promise<unknown> {
  const fn = manager[method];
  if (typeof fn !== 'function') throw new SystemdError('ERR_SYSTEMD_API', `systemd's ${MANAGER} has no ${method} method`);
  return fn.apply(manager, args) as Promise<unknown>;
}

export class DbusSystemdBus implements SystemdBus {
  private readonly bus: MessageBus;
  private manager: Promise<Manager> | null = null;
  /** Jobs that ended, by object path, until someone waiting for them takes the result. */
  private readonly ended = new Map<string, string>();
  private readonly waiting = new Map<string, (result: string) => void>();

  constructor(bus: MessageBus) {
    this.bus = bus;
  }

  private connect(): Promise<Manager> {
    this.manager ??= (async () => {
      const object = await this.bus.getProxyObject(SYSTEMD, MANAGER_PATH);
      const manager = object.getInterface(MANAGER) as Manager;
      manager.on('JobRemoved', (_id: number, job: string, _unit: string, result: string) => {
        const waiter = this.waiting.get(job);
        if (waiter) waiter(result);
        else this.ended.set(job, result);
      });
      // The reply to Subscribe comes after the match rule for JobRemoved is in place, so no job's end is missed.
      await call(manager, 'Subscribe');
      return manager;
    })();
    return this.manager;
  }

  async reload(): Promise<void> {
    await call(await this.connect(), 'Reload');
  }

  async unitFileState(name: string): Promise<string> {
    try {
      return String(await call(await this.connect(), 'GetUnitFileState', name));
    } catch (error) {
      if (/NoSuchUnit|FileNotFound|No such file/.test(String((error as { type?: string }).type ?? (error as Error).message))) return '';
      throw error;
    }
  }

  async enable(names: readonly string[], runtime: boolean): Promise<void> {
    await call(await this.connect(), 'EnableUnitFiles', [...names], runtime, true);
  }

  async activeState(name: string): Promise<string> {
    const rows = (await call(await this.connect(), 'ListUnitsByNames', [name])) as unknown[][];
    const state = rows[0]?.[3];
    return typeof state === 'string' ? state : 'inactive';
  }

  async run(command: UnitCommand, name: string): Promise<JobResult> {
    const manager = await this.connect();
    const job = String(await call(manager, METHOD[command], name, 'replace'));
    const result = this.ended.get(job);
    if (result !== undefined) {
      this.ended.delete(job);
      return result;
    }
    return new Promise((resolve) => {
      this.waiting.set(job, (ended) => {
        this.waiting.delete(job);
        resolve(ended);
      });
    });
  }
}
