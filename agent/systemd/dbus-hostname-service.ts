// HostnameService adapter on systemd-hostnamed's D-Bus API (org.freedesktop.hostname1).

import type { MessageBus } from 'dbus-next';
import type { HostnameService } from '../../cloud-config/hostname-service.ts';

const HOSTNAMED = 'org.freedesktop.hostname1';
const PATH = '/org/freedesktop/hostname1';

export class DbusHostnameService implements HostnameService {
  private readonly bus: MessageBus;

  constructor(bus: MessageBus) {
    this.bus = bus;
  }

  async staticHostname(): Promise<string> {
    const object = await this.bus.getProxyObject(HOSTNAMED, PATH);
    const properties = object.getInterface('org.freedesktop.DBus.Properties') as unknown as { Get: (iface: string, name: string) => Promise<{ value: unknown }> };
    return String((await properties.Get(HOSTNAMED, 'StaticHostname')).value);
  }

  async setStaticHostname(name: string): Promise<void> {
    const object = await this.bus.getProxyObject(HOSTNAMED, PATH);
    const hostnamed = object.getInterface(HOSTNAMED) as unknown as { SetStaticHostname: (name: string, interactive: boolean) => Promise<void> };
    await hostnamed.SetStaticHostname(name, false);
  }
}
