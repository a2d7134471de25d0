// systemd and hostnamed stand-ins on a real (private) bus: org.freedesktop.systemd1.Manager and
// org.freedesktop.hostname1 with systemd's method signatures. Units are loaded from a root
// directory on Reload, as systemd does, jobs end with a JobRemoved signal, and every call is logged.
// LoadUnit exports the unit's object with its Unit (and Service) properties, which a test may set.

import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import dbus from 'dbus-next';
import type { MessageBus } from 'dbus-next';

const UNIT_DIRS = ['etc/systemd/system', 'run/systemd/system'];

/** A unit's properties as a test sets them; what is not set follows the Manager's jobs and unit files. */
export interface FakeUnitProps {
  loadState?: string;
  activeState?: string;
  subState?: string;
  result?: string;
  nRestarts?: number;
  conditionResult?: boolean;
  /** CLOCK_MONOTONIC µs; 0: conditions never checked on this boot. */
  conditionTimestamp?: bigint;
  /** CLOCK_MONOTONIC µs; 0: never left inactive on this boot. */
  inactiveExitTimestamp?: bigint;
}

/** systemd's object path of a unit: every byte but [A-Za-z0-9] as _xx (sd_bus_path_encode). */
export function unitPath(name: string): string {
  return `/org/freedesktop/systemd1/unit/${[...Buffer.from(name)].map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`)).join('')}`;
}

class UnitObject extends dbus.interface.Interface {
  private readonly name: string;
  private readonly manager: Manager;

  constructor(name: string, manager: Manager) {
    super('org.freedesktop.systemd1.Unit');
    this.name = name;
    this.manager = manager;
  }

  private get props(): FakeUnitProps {
    return this.manager.props(this.name);
  }

  get Id(): string {
    return this.name;
  }

  get LoadState(): string {
    return this.props.loadState ?? 'loaded';
  }

  get ActiveState(): string {
    return this.props.activeState ?? 'inactive';
  }

  get SubState(): string {
    return this.props.subState ?? 'dead';
  }

  get ConditionResult(): boolean {
    return this.props.conditionResult ?? false;
  }

  get ConditionTimestampMonotonic(): bigint {
    return this.props.conditionTimestamp ?? 0n;
  }

  get InactiveExitTimestampMonotonic(): bigint {
    return this.props.inactiveExitTimestamp ?? 0n;
  }
}

UnitObject.configureMembers({
  properties: {
    Id: { signature: 's', access: 'read' },
    LoadState: { signature: 's', access: 'read' },
    ActiveState: { signature: 's', access: 'read' },
    SubState: { signature: 's', access: 'read' },
    ConditionResult: { signature: 'b', access: 'read' },
    ConditionTimestampMonotonic: { signature: 't', access: 'read' },
    InactiveExitTimestampMonotonic: { signature: 't', access: 'read' },
  },
});

class ServiceObject extends dbus.interface.Interface {
  private readonly name: string;
  private readonly manager: Manager;

  constructor(name: string, manager: Manager) {
    super('org.freedesktop.systemd1.Service');
    this.name = name;
    this.manager = manager;
  }

  get Result(): string {
    return this.manager.props(this.name).result ?? 'success';
  }

  get NRestarts(): number {
    return this.manager.props(this.name).nRestarts ?? 0;
  }
}

ServiceObject.configureMembers({
  properties: {
    Result: { signature: 's', access: 'read' },
    NRestarts: { signature: 'u', access: 'read' },
  },
});

class Manager extends dbus.interface.Interface {
  readonly calls: string[];
  readonly root: string;
  /** Unit name -> its file's content, or null for a mask; as of the last Reload. */
  loaded = new Map<string, string | null>();
  readonly enabled = new Set<string>();
  readonly active = new Map<string, string>();
  /** Properties a test set on a unit (setUnit). */
  readonly unitProps = new Map<string, FakeUnitProps>();
  /** The bus the unit objects are exported on (set by startFakeSystemd). */
  bus: MessageBus | null = null;
  private readonly exported = new Set<string>();
  private jobs = 0;

  constructor(root: string, calls: string[]) {
    super('org.freedesktop.systemd1.Manager');
    this.root = root;
    this.calls = calls;
  }

  /** A unit's properties: what a test set, else what the jobs and unit files say. */
  props(name: string): FakeUnitProps {
    const set = this.unitProps.get(name) ?? {};
    const active = this.active.get(name) ?? 'inactive';
    return {
      loadState: this.loaded.has(name) || this.unitProps.has(name) || this.active.has(name) ? 'loaded' : 'not-found',
      activeState: active,
      subState: active === 'active' ? 'running' : active === 'failed' ? 'failed' : 'dead',
      result: active === 'failed' ? 'exit-code' : 'success',
      ...set,
    };
  }

  /** Sets a unit's properties as systemd would report them now. */
  setUnit(name: string, props: FakeUnitProps): void {
    this.unitProps.set(name, { ...this.unitProps.get(name), ...props });
  }

  /** As systemd: the unit's object path, its object there (with the Service interface for a service) from now on. */
  LoadUnit(name: string): string {
    this.calls.push(`LoadUnit ${name}`);
    const path = unitPath(name);
    if (!this.exported.has(name) && this.bus !== null) {
      this.bus.export(path, new UnitObject(name, this));
      if (name.endsWith('.service')) this.bus.export(path, new ServiceObject(name, this));
      this.exported.add(name);
    }
    return path;
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
    LoadUnit: { inSignature: 's', outSignature: 'o' },
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
  manager.bus = bus;
  bus.export('/org/freedesktop/systemd1', manager);
  bus.export('/org/freedesktop/hostname1', new Hostnamed(calls));
  await bus.requestName('org.freedesktop.systemd1', 0);
  await bus.requestName('org.freedesktop.hostname1', 0);
  return { calls, manager, bus };
}
