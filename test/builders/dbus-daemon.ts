// A private, real dbus-daemon for tests: its own socket in a temp dir, a policy that lets the test
// own any name, stopped afterwards.

import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface DbusDaemon {
  readonly address: string;
  stop(): Promise<void>;
}

export async function startDbusDaemon(policy = '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>'): Promise<DbusDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-dbus-'));
  const config = join(dir, 'bus.conf');
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${join(dir, 'bus')}</listen><auth>EXTERNAL</auth>${policy}</busconfig>\n`,
  );
  const child = spawn('dbus-daemon', ['--config-file', config, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    createInterface({ input: child.stdout }).once('line', (line) => resolve(line.trim()));
  });
  return {
    address,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A private bus with the system bus's default policy (Debian's system.conf: method calls denied
 * unless a policy allows them), the given policy files included, and its socket reachable by other
 * users; root, which runs the test's stand-ins, may own and call anything.
 */
export async function startSystemLikeBus(policyFiles: readonly string[]): Promise<DbusDaemon> {
  const bus = await startDbusDaemon(`<policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    ${['method_call', 'method_return', 'error', 'signal'].map((type) => `<allow receive_type="${type}"/>`).join('')}
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <policy user="root"><allow own="*"/><allow send_destination="*"/></policy>
  ${policyFiles.map((file) => `<include>${file}</include>`).join('\n  ')}`);
  await chmod(dirname(bus.address.replace(/^unix:path=/, '').split(',')[0] ?? ''), 0o755);
  return bus;
}

/**
 * A private bus with no policy in the way: every user may connect (its socket reachable by others),
 * own any name and call anything. `mandatory` rules are applied on top, to take one thing away.
 */
export async function startOpenBus(mandatory = ''): Promise<DbusDaemon> {
  const bus = await startDbusDaemon(`<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
  <policy context="mandatory">${mandatory}</policy>`);
  await chmod(dirname(bus.address.replace(/^unix:path=/, '').split(',')[0] ?? ''), 0o755);
  return bus;
}
