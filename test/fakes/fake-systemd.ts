// systemd and hostnamed stand-ins on a real (private) bus: org.freedesktop.systemd1.Manager and
// org.freedesktop.hostname1 with systemd's method signatures. Units are loaded from a root
// directory on Reload, as systemd does, jobs end with a JobRemoved signal, and every call is logged.

import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';

const UNIT_DIRS = ['etc/systemd/system', 'run/systemd/system'];

class Manager extends dbus.interface.Interface {
  readonly calls: string[];
  readonly root: string;
  /** Unit name -> its file's content, or null for a mask; as of the last Reload. */
  loaded = new Map<string, string | null>();
  readonly enabled = new Set<string>();
  readonly active = new Map<string, string>();
  private jobs = 0;

  constructor(root: string, calls: string[]) {
    super('org.freedesktop.systemd1.Manager');
    this.root = root;
    this.calls = calls;
  }

  Subscribe(): void {
    this.calls.push('Subscribe');
  }

  async Reload(): Promise<void> {
    this.calls.push('Reload');
    const loaded = new Map<string, string | null>();
    for (const dir of UNIT_DIRS) {
      for (const name of await readdir(join(this.root, dir)).catch(() => [])) {
        if (name.endsWith('.d')) continue;
        const path = join(this.root, dir, name);
        const mask = (await readlink(path).catch(() => null)) === '/dev/null';
        loaded.set(name, mask ? null : await readFile(path, 'utf8'));
      }
    }
    this.loaded = loaded;
  }

  GetUnitFileState(name: string): string {
    this.calls.push(`GetUnitFileState ${name}`);
    if (!this.loaded.has(name)) throw new dbus.DBusError('org.freedesktop.DBus.Error.FileNotFound', `No such file or directory`);
    if (this.loaded.get(name) === null) return 'masked';
    return this.enabled.has(name) ? 'enabled' : 'disabled';
  }

  EnableUnitFiles(names: string[], runtime: boolean, force: boolean): [boolean, [string, string, string][]] {
    this.calls.push(`EnableUnitFiles ${names.join(',')} runtime=${runtime} force=${force}`);
    for (const name of names) this.enabled.add(name);
    return [true, names.map((name) => ['symlink', `/etc/systemd/system/multi-user.target.wants/${name}`, `/etc/systemd/system/${name}`])];
  }

  ListUnitsByNames(names: string[]): [string, string, string, string, string, string, string, number, string, string][] {
    this.calls.push(`ListUnitsByNames ${names.join(',')}`);
    return names.map((name) => {
      const state = this.active.get(name) ?? 'inactive';
      return [name, '', this.loaded.has(name) ? 'loaded' : 'not-found', state, state === 'active' ? 'running' : 'dead', '', `/org/freedesktop/systemd1/unit/${name.replace(/\W/g, '_')}`, 0, '', '/'];
    });
  }

  StartUnit(name: string, mode: string): string {
    return this.job('StartUnit', name, mode, 'active');
  }

  StopUnit(name: string, mode: string): string {
    return this.job('StopUnit', name, mode, 'inactive');
  }

  RestartUnit(name: string, mode: string): string {
    return this.job('RestartUnit', name, mode, 'active');
  }

  ReloadUnit(name: string, mode: string): string {
    return this.job('ReloadUnit', name, mode, 'active');
  }

  TryRestartUnit(name: string, mode: string): string {
    return this.job('TryRestartUnit', name, mode, 'active');
  }

  ReloadOrRestartUnit(name: string, mode: string): string {
    return this.job('ReloadOrRestartUnit', name, mode, 'active');
  }

  ReloadOrTryRestartUnit(name: string, mode: string): string {
    return this.job('ReloadOrTryRestartUnit', name, mode, 'active');
  }

  JobRemoved(id: number, job: string, unit: string, result: string): [number, string, string, string] {
    return [id, job, unit, result];
  }

  /** A unit whose ExecStart is /bin/false fails to start, as it would under systemd. */
  private job(method: string, name: string, mode: string, target: string): string {
    this.calls.push(`${method} ${name} ${mode}`);
    const content = this.loaded.get(name);
    if (content === undefined) throw new dbus.DBusError('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not found.`);
    if (content === null) throw new dbus.DBusError('org.freedesktop.systemd1.UnitMasked', `Unit ${name} is masked.`);
    const id = ++this.jobs;
    const path = `/org/freedesktop/systemd1/job/${id}`;
    const fails = target === 'active' && content.includes('ExecStart=/bin/false');
    this.active.set(name, fails ? 'failed' : target);
    setImmediate(() => this.JobRemoved(id, path, name, fails ? 'failed' : 'done'));
    return path;
  }
}

Manager.configureMembers({
  methods: {
    Subscribe: {},
    Reload: {},
    GetUnitFileState: { inSignature: 's', outSignature: 's' },
    EnableUnitFiles: { inSignature: 'asbb', outSignature: 'ba(sss)' },
    ListUnitsByNames: { inSignature: 'as', outSignature: 'a(ssssssouso)' },
    StartUnit: { inSignature: 'ss', outSignature: 'o' },
    StopUnit: { inSignature: 'ss', outSignature: 'o' },
    RestartUnit: { inSignature: 'ss', outSignature: 'o' },
    ReloadUnit: { inSignature: 'ss', outSignature: 'o' },
    TryRestartUnit: { inSignature: 'ss', outSignature: 'o' },
    ReloadOrRestartUnit: { inSignature: 'ss', outSignature: 'o' },
    ReloadOrTryRestartUnit: { inSignature: 'ss', outSignature: 'o' },
  },
  signals: { JobRemoved: { signature: 'uoss' } },
});

class Hostnamed extends dbus.interface.Interface {
  readonly calls: string[];
  private name = '';

  constructor(calls: string[]) {
    super('org.freedesktop.hostname1');
    this.calls = calls;
  }

  get StaticHostname(): string {
    this.calls.push('Get StaticHostname');
    return this.name;
  }

  SetStaticHostname(name: string, interactive: boolean): void {
    this.calls.push(`SetStaticHostname ${name} interactive=${interactive}`);
    this.name = name;
  }
}

Hostnamed.configureMembers({
  properties: { StaticHostname: { signature: 's', access: 'read' } },
  methods: { SetStaticHostname: { inSignature: 'sb' } },
});

export interface FakeSystemd {
  /** Every call to either service, in order. */
  readonly calls: string[];
  readonly manager: Manager;
  readonly bus: MessageBus;
}

/** Exports both services on the bus at `address`; `root` is the directory whose units Reload loads. */
export async function startFakeSystemd(address: string, root: string): Promise<FakeSystemd> {
  const calls: string[] = [];
  const bus = dbus.sessionBus({ busAddress: address });
  const manager = new Manager(root, calls);
  bus.export('/org/freedesktop/systemd1', manager);
  bus.export('/org/freedesktop/hostname1', new Hostnamed(calls));
  await bus.requestName('org.freedesktop.systemd1', 0);
  await bus.requestName('org.freedesktop.hostname1', 0);
  return { calls, manager, bus };
}
