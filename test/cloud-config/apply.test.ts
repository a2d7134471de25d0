// cloud-config apply against a temporary root and a private real dbus-daemon on which stand-ins
// export systemd1 and hostname1: files, modes, owners, accounts (real useradd), the exact D-Bus
// calls, a second apply that changes nothing, failures reported, and documents refused whole.

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import dbus from 'dbus-next';
import { applyCloudConfig } from '../../cloud-config/apply.ts';
import { HostRoot } from '../../cloud-config/host-root.ts';
import { ShadowUserAccounts } from '../../cloud-config/shadow-user-accounts.ts';
import { validateCloudConfig } from '../../cloud-config/validate.ts';
import { DbusHostnameService } from '../../agent/systemd/dbus-hostname-service.ts';
import { DbusSystemdBus } from '../../agent/systemd/dbus-systemd-bus.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { makeTestRoot } from '../builders/test-root.ts';
import { missingTools } from '../builders/require-tools.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
import type { MessageBus } from 'dbus-next';
import type { ApplyResult } from '../../cloud-config/apply.ts';
import type { CloudConfig } from '../../cloud-config/schema.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { DbusDaemon } from '../builders/dbus-daemon.ts';
import type { FakeSystemd } from '../fakes/fake-systemd.ts';

const skip = missingTools({ 'dbus-daemon': 'dbus-daemon', useradd: 'passwd' });
const CORE_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl core@laptop';
const OPS_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBpx3fFzxTVOXVqM4aH2tiGUSgbn5mRlzyD8vKtcNj2m ops@laptop';
const HASH = '$6$rounds=4096$saltsalt$3MEaFIjU1I4yU2F0V0m2Wv6cN3vZ8n9eR2zq0H5nK1O0lqZ6dYkB5j3m0pQ1rS2tU3vW4xY5z6A7B8C9D0E1F.';
const HELLO = '#!/bin/sh\necho hello\n';

const DOCUMENT = `#cloud-config
hostname: web-1
manage_etc_hosts: localhost
ssh_authorized_keys:
  - ${CORE_KEY}
users:
  - name: ops
    passwd: ${HASH}
    groups: [sudo]
    ssh-authorized-keys:
      - ${OPS_KEY}
write_files:
  - path: /etc/app/config.env
    permissions: "0640"
    owner: ops:ops
    content: SECRET=hunter2
  - path: /opt/bin/hello
    permissions: 0755
    encoding: gzip+base64
    content: ${gzipSync(HELLO).toString('base64')}
coreos:
  update:
    reboot-strategy: etcd-lock
    group: stable
    server: http://10.0.2.2:8080/stable
  locksmith:
    endpoint: http://10.0.2.2:2379
    window-start: Thu 04:00
    window-length: 1h
    etcd_password: s3cret-etcd
  units:
    - name: app.service
      enable: true
      command: start
      content: |
        [Unit]
        Description=App
        [Service]
        ExecStart=/usr/bin/podman run --rm localhost/app
        [Install]
        WantedBy=multi-user.target
    - name: docker.service
      drop-ins:
        - name: 50-env.conf
          content: |
            [Service]
            Environment=A=1
    - name: update-engine.service
      mask: true
    - name: cache.service
      runtime: true
      command: start
      content: |
        [Service]
        ExecStart=/usr/bin/true
`;

function parse(text: string): CloudConfig {
  const { config, report } = validateCloudConfig(text);
  if (config === null) throw new Error(report.format());
  return config;
}

describe.skipIf(skip !== null)(`${skip ?? ''} cloud-config apply`, () => {
  let daemon: DbusDaemon;
  let dir: TempDir;
  let root: string;
  let fake: FakeSystemd;
  let bus: MessageBus;
  let logs: string[];

  beforeAll(async () => {
    daemon = await startDbusDaemon();
  });
  afterAll(async () => {
    await daemon.stop();
  });

  beforeEach(async () => {
    dir = await tempDir();
    root = join(dir.path, 'root');
    await makeTestRoot(root);
    fake = await startFakeSystemd(daemon.address, root);
    bus = dbus.sessionBus({ busAddress: daemon.address });
    logs = [];
  });
  afterEach(async () => {
    bus.disconnect();
    fake.bus.disconnect();
    await dir.remove();
  });

  const apply = (config: CloudConfig, busForApply: MessageBus = bus): Promise<ApplyResult> =>
    applyCloudConfig(config, {
      root: new HostRoot(root),
      accounts: new ShadowUserAccounts(root),
      systemd: new DbusSystemdBus(busForApply),
      hostname: new DbusHostnameService(busForApply),
      log: (fields, message) => logs.push(JSON.stringify({ ...fields, message })),
    });
  const at = (path: string): string => join(root, path);
  const owner = async (path: string): Promise<string> => {
    const info = await lstat(at(path));
    return `${(info.mode & 0o7777).toString(8)} ${info.uid}:${info.gid}`;
  };

  it('applies everything, in order, with the exact D-Bus calls', async () => {
    const result = await apply(parse(DOCUMENT));
    expect(result.steps.filter((s) => s.result === 'failed')).toEqual([]);
    expect(fake.calls).toEqual([
      'Get StaticHostname',
      'SetStaticHostname web-1 interactive=false',
      'Subscribe',
      'Reload',
      'GetUnitFileState app.service',
      'EnableUnitFiles app.service runtime=false force=true',
      'ListUnitsByNames app.service',
      'StartUnit app.service replace',
      'ListUnitsByNames cache.service',
      'StartUnit cache.service replace',
    ]);
    expect(result.steps.map((s) => `${s.step} ${s.target} ${s.result}`)).toEqual([
      'hostname web-1 changed',
      'etc-hosts /etc/hosts changed',
      'user ops changed',
      'password ops changed',
      'ssh-keys ops changed',
      'ssh-keys core changed',
      'file /etc/app/config.env changed',
      'file /opt/bin/hello changed',
      'unit-file /etc/systemd/system/app.service changed',
      'drop-in /etc/systemd/system/docker.service.d/50-env.conf changed',
      'mask /etc/systemd/system/update-engine.service changed',
      'unit-file /run/systemd/system/cache.service changed',
      'daemon-reload systemd changed',
      'enable app.service changed',
      'start app.service changed',
      'start cache.service changed',
      'agent-config /etc/slipway/config.d/50-cloud-config.yaml changed',
    ]);

    const ops = (await readFile(at('etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith('ops:'))?.split(':') ?? [];
    const [uid, gid] = [Number(ops[2]), Number(ops[3])];
    expect(ops[5]).toBe('/home/ops');
    expect(await readFile(at('etc/group'), 'utf8')).toMatch(/^sudo:x:27:ops$/m);
    expect((await readFile(at('etc/shadow'), 'utf8')).split('\n').find((l) => l.startsWith('ops:'))?.split(':')[1]).toBe(HASH);
    expect(await readFile(at('home/ops/.ssh/authorized_keys'), 'utf8')).toBe(`${OPS_KEY}\n`);
    expect(await owner('home/ops/.ssh/authorized_keys')).toBe(`600 ${uid}:${gid}`);
    expect(await owner('home/ops/.ssh')).toBe(`700 ${uid}:${gid}`);
    expect(await readFile(at('home/core/.ssh/authorized_keys'), 'utf8')).toBe(`${CORE_KEY}\n`);
    expect(await owner('home/core/.ssh/authorized_keys')).toBe('600 500:500');

    expect(await readFile(at('etc/app/config.env'), 'utf8')).toBe('SECRET=hunter2');
    expect(await owner('etc/app/config.env')).toBe(`640 ${uid}:${gid}`);
    expect(await owner('etc/app')).toBe('755 0:0');
    expect(await readFile(at('opt/bin/hello'), 'utf8')).toBe(HELLO);
    expect(await owner('opt/bin/hello')).toBe('755 0:0');
    expect(await readFile(at('etc/hosts'), 'utf8')).toContain('127.0.0.1 localhost web-1\n');

    expect(await readFile(at('etc/systemd/system/docker.service.d/50-env.conf'), 'utf8')).toBe('[Service]\nEnvironment=A=1\n');
    expect(await readlink(at('etc/systemd/system/update-engine.service'))).toBe('/dev/null');
    expect(await owner('run/systemd/system/cache.service')).toBe('644 0:0');

    const fragment = await readFile(at('etc/slipway/config.d/50-cloud-config.yaml'), 'utf8');
    expect(fragment).toContain('update:\n  server: http://10.0.2.2:8080/stable\n  channel: stable\n');
    expect(fragment).toContain('reboot:\n  strategy: etcd-lock\n  windows:\n    - start: Thu 04:00\n      length: 1h\n');
    expect(fragment).toContain('password: s3cret-etcd');
    expect(await owner('etc/slipway/config.d/50-cloud-config.yaml')).toBe('600 0:0');

    const logged = logs.join('\n');
    for (const secret of ['hunter2', 's3cret-etcd', HASH, 'saltsalt']) expect(logged).not.toContain(secret);
    expect(logged).toContain('"step":"file","target":"/etc/app/config.env","result":"changed"');
  });

  it('changes nothing when the same document is applied again', async () => {
    await apply(parse(DOCUMENT));
    const watched = ['etc/passwd', 'etc/shadow', 'etc/app/config.env', 'home/ops/.ssh/authorized_keys', 'etc/systemd/system/app.service', 'etc/slipway/config.d/50-cloud-config.yaml'];
    const before = await Promise.all(watched.map(async (p) => (await stat(at(p))).mtimeMs));
    fake.calls.length = 0;
    const again = await apply(parse(DOCUMENT));
    expect(again.steps.filter((s) => s.result !== 'unchanged')).toEqual([]);
    expect(again.changed).toBe(0);
    expect(fake.calls).toEqual(['Get StaticHostname', 'Subscribe', 'GetUnitFileState app.service', 'ListUnitsByNames app.service', 'ListUnitsByNames cache.service']);
    expect(await Promise.all(watched.map(async (p) => (await stat(at(p))).mtimeMs))).toEqual(before);
  });

  it('keeps keys already authorized and adds only the missing ones', async () => {
    await mkdir(at('home/core/.ssh'), { recursive: true });
    await writeFile(at('home/core/.ssh/authorized_keys'), 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 old@host\n');
    await apply(parse(`#cloud-config\nssh_authorized_keys:\n  - ${CORE_KEY}\n`));
    expect(await readFile(at('home/core/.ssh/authorized_keys'), 'utf8')).toBe(`ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 old@host\n${CORE_KEY}\n`);
  });

  it('reports a unit whose job fails, and still does the rest', async () => {
    const result = await apply(
      parse(`#cloud-config
coreos:
  units:
    - name: broken.service
      command: start
      content: |
        [Service]
        ExecStart=/bin/false
    - name: good.service
      command: restart
      content: |
        [Service]
        ExecStart=/usr/bin/true
`),
    );
    expect(result.failed).toBe(1);
    expect(result.steps.find((s) => s.result === 'failed')).toEqual({
      step: 'start',
      target: 'broken.service',
      result: 'failed',
      error: 'systemd\'s start job for broken.service ended "failed"; see journalctl -u broken.service',
    });
    expect(fake.calls.slice(-2)).toEqual(['ListUnitsByNames good.service', 'RestartUnit good.service replace']);
    expect(fake.manager.active.get('good.service')).toBe('active');
  });

  it('applies nothing when a file would be written through a symlink', async () => {
    await mkdir(join(dir.path, 'elsewhere'));
    await symlink(join(dir.path, 'elsewhere'), at('etc/app'));
    const document = parse(`#cloud-config\nhostname: web-2\nwrite_files:\n  - path: /etc/ok\n    content: fine\n  - path: /etc/app/config.env\n    content: x\n`);
    await expect(apply(document)).rejects.toMatchObject({
      code: 'ERR_CLOUD_CONFIG_INVALID',
      message: `nothing was applied; the host would refuse this cloud-config:\n  write_files[1]: /etc/app/config.env goes through the symlink /etc/app (to ${join(dir.path, 'elsewhere')}); refusing to follow it`,
    });
    expect(fake.calls).toEqual([]);
    await expect(stat(at('etc/ok'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses to write a file that is itself a symlink', async () => {
    await symlink('/etc/shadow', at('etc/motd'));
    await expect(apply(parse('#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hi\n'))).rejects.toThrow('write_files[0]: /etc/motd is a symlink (to /etc/shadow); refusing to write through it');
    expect(await readlink(at('etc/motd'))).toBe('/etc/shadow');
  });

  it('applies nothing when an owner is unknown or keys have no user', async () => {
    await writeFile(at('etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
    const document = parse(`#cloud-config\nssh_authorized_keys:\n  - ${CORE_KEY}\nwrite_files:\n  - path: /etc/x\n    owner: nobody-here:wheel\n    content: x\n`);
    await expect(apply(document)).rejects.toThrow(
      'nothing was applied; the host would refuse this cloud-config:\n  write_files[0]: owner "nobody-here:wheel" of /etc/x is neither on this host nor in users\n  ssh_authorized_keys: they are for the user "core", who is neither on this host nor in users',
    );
    expect(fake.calls).toEqual([]);
  });
  it('writes networkd units under systemd/network and reloads networkd once, without a daemon-reload; !!binary, unquoted modes and keyed options as coreos-cloudinit reads them', async () => {
    const keyed = `command="/usr/bin/uptime",no-pty ${CORE_KEY}`;
    fake.manager.loaded.set('systemd-networkd.service', '[Service]\nExecStart=/usr/lib/systemd/systemd-networkd\nExecReload=networkctl reload\n');
    const result = await apply(
      parse(`#cloud-config
ssh_authorized_keys:
  - '${keyed}'
write_files:
  - path: /opt/bin/hello
    permissions: 755
    encoding: gzip
    content: !!binary ${gzipSync(HELLO).toString('base64')}
coreos:
  units:
    - name: 10-eth0.network
      content: |
        [Match]
        Name=eth0
        [Network]
        DHCP=yes
    - name: 20-br0.netdev
      runtime: true
      content: |
        [NetDev]
        Name=br0
        Kind=bridge
`),
    );
    expect(result.steps.filter((s) => s.result === 'failed')).toEqual([]);
    expect(fake.calls).toEqual(['Subscribe', 'ReloadOrRestartUnit systemd-networkd.service replace']);
    expect(result.steps.map((s) => `${s.step} ${s.target} ${s.result}`)).toEqual([
      'ssh-keys core changed',
      'file /opt/bin/hello changed',
      'unit-file /etc/systemd/network/10-eth0.network changed',
      'unit-file /run/systemd/network/20-br0.netdev changed',
      'reload-or-restart systemd-networkd.service changed',
    ]);
    expect(await readFile(at('etc/systemd/network/10-eth0.network'), 'utf8')).toBe('[Match]\nName=eth0\n[Network]\nDHCP=yes\n');
    expect(await owner('run/systemd/network/20-br0.netdev')).toBe('644 0:0');
    expect(await readFile(at('opt/bin/hello'), 'utf8')).toBe(HELLO);
    expect(await owner('opt/bin/hello')).toBe('755 0:0');
    expect(await readFile(at('home/core/.ssh/authorized_keys'), 'utf8')).toBe(`${keyed}\n`);
  });
});
