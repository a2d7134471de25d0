// The health gate's UnitStates port on systemd's D-Bus API: LoadUnit gives the unit's object, whose
// org.freedesktop.DBus.Properties.GetAll reads the Unit properties (and, for a service, its Result
// and NRestarts) in one call each, without introspection.

import dbus from 'dbus-next';
import { SystemdError } from './systemd-errors.ts';
import type { Message, MessageBus, Variant } from 'dbus-next';
import type { UnitState, UnitStates } from '../health/health-ports.ts';

const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';

type Props = Readonly<Record<string, Variant | undefined>>;

const str = (props: Props, key: string): string | null => {
  const value: unknown = props[key]?.value;
  return typeof value === 'string' ? value : null;
};
const num = (props: Props, key: string): number | null => {
  const value: unknown = props[key]?.value;
  return typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : null;
};

export class DbusUnitStates implements UnitStates {
  private readonly bus: MessageBus;

  constructor(bus: MessageBus) {
    this.bus = bus;
  }

  private async call(path: string, iface: string, member: string, signature: string, body: unknown[]): Promise<unknown> {
    const reply: Message | null = await this.bus.call(new dbus.Message({ destination: SYSTEMD, path, interface: iface, member, signature, body }));
    return reply?.body[0];
  }

  async unitState(name: string): Promise<UnitState> {
    try {
      // LoadUnit answers for any name: a unit without a file is loaded as LoadState not-found.
      const path = await this.call(MANAGER_PATH, `${SYSTEMD}.Manager`, 'LoadUnit', 's', [name]);
      if (typeof path !== 'string') throw new Error(`LoadUnit answered ${JSON.stringify(path)}`);
      const unit = (await this.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [UNIT])) as Props;
      const service = name.endsWith('.service') ? ((await this.call(path, 'org.freedesktop.DBus.Properties', 'GetAll', 's', [SERVICE])) as Props) : {};
      const conditionAt = num(unit, 'ConditionTimestampMonotonic') ?? 0;
      return {
        loadState: str(unit, 'LoadState') ?? 'unknown',
        activeState: str(unit, 'ActiveState') ?? 'unknown',
        subState: str(unit, 'SubState') ?? 'unknown',
        result: str(service, 'Result'),
        nRestarts: num(service, 'NRestarts'),
        // ConditionResult is false too for a unit whose conditions were never checked on this boot.
        condition: conditionAt === 0 ? 'not-checked' : unit.ConditionResult?.value === true ? 'passed' : 'failed',
        started: (num(unit, 'InactiveExitTimestampMonotonic') ?? 0) > 0,
      };
    } catch (cause) {
      const { type, text } = cause as { type?: unknown; text?: unknown };
      throw new SystemdError('ERR_SYSTEMD_UNIT_STATE', `cannot read the state of ${name} from systemd`, { cause: typeof type === 'string' ? new Error(`${type}: ${typeof text === 'string' ? text : ''}`) : cause });
    }
  }
}
