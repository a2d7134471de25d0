// `slipway cloud-config apply` as the first-boot unit runs it: a real process on a private system
// bus with systemd1/hostname1 stand-ins, a temporary root, a FAT config-drive image and a file.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, tempDir } from '../builders/coreos-disk.ts';
import { startDbusDaemon } from '../builders/dbus-daemon.ts';
import { missingTools } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { makeTestRoot } from '../builders/test-root.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { DbusDaemon } from '../builders/dbus-daemon.ts';
import type { FakeSystemd } from '../fakes/fake-systemd.ts';

const skip = missingTools({ 'dbus-daemon': 'dbus-daemon', useradd: 'passwd', 'mkfs.vfat': 'dosfstools', mcopy: 'mtools' });
const GOOD = '#cloud-config\nhostname: node-1\nwrite_files:\n  - path: /etc/motd\n    content: hello\ncoreos:\n  units:\n    - name: app.service\n      command: start\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/usr/bin/true\n        [Install]\n        WantedBy=multi-user.target\n';

describe.skipIf(skip !== null)(`${skip ?? ''} slipway cloud-config apply`, () => {
  let daemon: DbusDaemon;
  let dir: TempDir;
  let fake: FakeSystemd;
  let root: string;
  let env: NodeJS.ProcessEnv;
  /** /proc/cmdline replaced by a file without cloud-config-url=. */
  let hostArgs: string[];

  beforeAll(async () => {
    daemon = await startDbusDaemon();
    dir = await tempDir();
    root = join(dir.path, 'root');
    await makeTestRoot(root);
    fake = await startFakeSystemd(daemon.address, root);
    env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: daemon.address };
    hostArgs = ['--proc-cmdline', join(dir.path, 'cmdline')];
    await writeFile(join(dir.path, 'cmdline'), 'ro quiet\n');
  });
  afterAll(async () => {
    fake.bus.disconnect();
    await daemon.stop();
    await dir.remove();
  });

  it('applies the config-drive at first boot once, and skips later boots', async () => {
    const drive = join(dir.path, 'configdrive.img');
    const userData = join(dir.path, 'user_data');
    await writeFile(userData, GOOD);
    await run('mkfs.vfat', ['-C', '-n', 'config-2', drive, '4096']);
    await run('mmd', ['-i', drive, '::/openstack', '::/openstack/latest']);
    await run('mcopy', ['-i', drive, userData, '::/openstack/latest/user_data']);
    const args = ['cloud-config', 'apply', '--from-configdrive', '--configdrive-device', drive, '--from-cmdline', '--root', root, '--first-boot'];

    const first = await runSlipway([...hostArgs, ...args, '--json'], { env });
    expect(first.stderr).not.toContain('error');
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout) as { origin: string; changed: number; failed: number; steps: { step: string }[] };
    expect(report).toMatchObject({ origin: `config-drive ${drive}`, changed: 7, failed: 0 });
    // The enabled unit is a workload the agent's health gate watches: the agent fragment names it.
    expect(report.steps.map((s) => s.step)).toEqual(['hostname', 'file', 'unit-file', 'daemon-reload', 'enable', 'start', 'agent-config']);
    expect(await readFile(join(root, 'etc', 'motd'), 'utf8')).toBe('hello');
    expect(await readFile(join(root, 'etc', 'slipway', 'config.d', '50-cloud-config.yaml'), 'utf8')).toMatch(/^health:\n {2}workload_units:\n {4}- \S+\.service\n/m);
    expect(await readFile(join(root, 'var', 'lib', 'slipway', 'cloud-config.applied'), 'utf8')).toBe(`config-drive ${drive}\n`);
    expect(fake.calls).toContain('StartUnit app.service replace');

    fake.calls.length = 0;
    const second = await runSlipway([...hostArgs, ...args], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('');
    expect(fake.calls).toEqual([]);
  });

  it('replaces $private_ipv4 and the like from the drive\'s metadata, else COREOS_*; an escaped one stays, a missing one is warned about', async () => {
    const drive = join(dir.path, 'addresses.img');
    const userData = join(dir.path, 'addresses_user_data');
    const metaData = join(dir.path, 'addresses_meta');
    await writeFile(userData, '#cloud-config\nwrite_files:\n  - path: /etc/addresses\n    content: |\n      etcd=http://$private_ipv4:2379 public=$public_ipv4 v6=$public_ipv6 literal=\\$private_ipv4\n');
    await writeFile(metaData, JSON.stringify({ 'local-ipv4': '10.1.2.3' }));
    await run('mkfs.vfat', ['-C', '-n', 'config-2', drive, '4096']);
    await run('mmd', ['-i', drive, '::/openstack', '::/openstack/latest', '::/ec2', '::/ec2/latest']);
    await run('mcopy', ['-i', drive, userData, '::/openstack/latest/user_data']);
    await run('mcopy', ['-i', drive, metaData, '::/ec2/latest/meta-data.json']);
    const result = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--from-configdrive', '--configdrive-device', drive, '--root', root], {
      env: { ...env, COREOS_PUBLIC_IPV4: '203.0.113.9', COREOS_PRIVATE_IPV4: '192.0.2.99' },
    });
    expect(result.code).toBe(0);
    expect(await readFile(join(root, 'etc', 'addresses'), 'utf8')).toBe('etcd=http://10.1.2.3:2379 public=203.0.113.9 v6= literal=$private_ipv4\n');
    expect(result.stderr).toContain(
      `config-drive ${drive}: warning: $public_ipv6 has no value here (config-drive ${drive} gives none and COREOS_PUBLIC_IPV6 is not set); it was replaced by an empty string, as coreos-cloudinit does`,
    );
  });

  it('applies nothing from a document with errors, printing each with its origin and line, and exits 1', async () => {
    const file = join(dir.path, 'bad.yaml');
    await writeFile(file, '#cloud-config\nhostname: bad_name!\nwrite_files:\n  - path: /etc/shadow-copy\n    content: x\n');
    fake.calls.length = 0;
    const result = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--from-file', file, '--root', root], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file}: line 2: error: hostname: "bad_name!" is not a valid hostname\n`);
    expect(result.stderr).toContain(`user-data from ${file} has errors (listed above); nothing was applied`);
    expect(fake.calls).toEqual([]);
    await expect(stat(join(root, 'etc', 'shadow-copy'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 1 naming the failed step when a unit fails, and writes no first-boot stamp', async () => {
    const file = join(dir.path, 'failing.yaml');
    const stampRoot = join(dir.path, 'root2');
    await makeTestRoot(stampRoot);
    await writeFile(file, '#cloud-config\ncoreos:\n  units:\n    - name: broken.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/bin/false\n');
    const daemon2 = await startDbusDaemon();
    const fake2 = await startFakeSystemd(daemon2.address, stampRoot);
    let result;
    try {
      result = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--from-file', file, '--root', stampRoot, '--first-boot'], { env: { ...env, DBUS_SYSTEM_BUS_ADDRESS: daemon2.address } });
    } finally {
      fake2.bus.disconnect();
      await daemon2.stop();
    }
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('failed    start broken.service: systemd\'s start job for broken.service ended "failed"; see journalctl -u broken.service\n');
    expect(result.stderr).toContain('1 of 3 cloud-config steps failed');
    await expect(stat(join(stampRoot, 'var', 'lib', 'slipway', 'cloud-config.applied'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('first boot never gives up: a cloud-config-url that fails past datasource_wait leaves no stamp and says why; the next boot applies it', async () => {
    const bootRoot = join(dir.path, 'root-url');
    await makeTestRoot(bootRoot);
    const www = join(dir.path, 'www');
    await mkdir(www, { recursive: true });
    await writeFile(join(www, 'user-data'), GOOD);
    const configDir = join(dir.path, 'config-url');
    await mkdir(configDir, { recursive: true });
    await writeFile(join(configDir, '50-wait.yaml'), 'cloud_config:\n  datasource_wait: 1s\n');
    const server = await startReleaseServer(www);
    let asked = 0;
    server.handle((_request, response) => {
      asked++;
      response.writeHead(503).end();
    });
    try {
      const cmdline = join(dir.path, 'cmdline-url');
      await writeFile(cmdline, `ro cloud-config-url=${server.url}/user-data\n`);
      const args = ['--proc-cmdline', cmdline, '--config-dir', configDir, 'cloud-config', 'apply', '--from-cmdline', '--root', bootRoot, '--first-boot'];
      const first = await runSlipway(args, { env });
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(/no user-data could be read \(cmdline cloud-config-url: gave up fetching http:\/\/127\.0\.0\.1:\d+\/user-data after \d+ attempts in 1 s\); nothing was applied, and the next boot tries again \[ERR_DATASOURCE_UNAVAILABLE\]/);
      expect(asked).toBeGreaterThan(1);
      await expect(stat(join(bootRoot, 'var', 'lib', 'slipway', 'cloud-config.applied'))).rejects.toMatchObject({ code: 'ENOENT' });
      const pending = JSON.parse(await readFile(join(bootRoot, 'var', 'lib', 'slipway', 'cloud-config.pending'), 'utf8')) as { code: string; message: string };
      expect(pending.code).toBe('ERR_DATASOURCE_UNAVAILABLE');
      expect(pending.message).toContain('cmdline cloud-config-url: gave up fetching');

      server.handle(null);
      const next = await runSlipway(args, { env });
      expect(next.stderr).not.toContain('error');
      expect(next.code).toBe(0);
      expect(await readFile(join(bootRoot, 'etc', 'motd'), 'utf8')).toBe('hello');
      expect(await readFile(join(bootRoot, 'var', 'lib', 'slipway', 'cloud-config.applied'), 'utf8')).toBe(`${server.url}/user-data\n`);
      await expect(stat(join(bootRoot, 'var', 'lib', 'slipway', 'cloud-config.pending'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await server.close();
    }
  });

  it('says when there is no user-data, and refuses a missing --from-file', async () => {
    const none = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--from-cmdline', '--root', root], { env });
    expect(none).toMatchObject({ code: 0, stdout: 'no user-data found; nothing to apply\n' });
    const missing = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--from-file', join(dir.path, 'nope'), '--root', root], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no user-data at ${join(dir.path, 'nope')}`);
    const usage = await runSlipway([...hostArgs, 'cloud-config', 'apply', '--root', root], { env });
    expect(usage.code).toBe(2);
  });
});

describe('slipway cloud-config apply without a system bus', () => {
  it('refuses with one coded line and exit 11, before anything is written and without a stack trace', async () => {
    const dir = await tempDir();
    try {
      const root = join(dir.path, 'root');
      await mkdir(join(root, 'etc'), { recursive: true });
      const file = join(dir.path, 'user-data.yaml');
      await writeFile(file, GOOD);
      const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir.path, 'no-bus')}` };
      const args = ['--proc-cmdline', join(dir.path, 'cmdline'), 'cloud-config', 'apply', '--from-file', file, '--root', root, '--first-boot'];
      const result = await runSlipway(args, { env });
      expect(result.code).toBe(11);
      // What failed and where, then why: no stack trace.
      expect(result.stderr).toBe(
        `slipway: cannot connect to the system bus at unix:path=${join(dir.path, 'no-bus')}; nothing was applied; check that dbus is running and DBUS_SYSTEM_BUS_ADDRESS [ERR_SYSTEM_BUS_UNREACHABLE]\n  caused by: connect ENOENT ${join(dir.path, 'no-bus')} [ENOENT]\n`,
      );
      await expect(stat(join(root, 'etc', 'motd'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(join(root, 'var', 'lib', 'slipway', 'cloud-config.applied'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await dir.remove();
    }
  });
});

describe('slipway cloud-config apply with a hostile path', () => {
  it('refuses //usr/lib/x as a path into the read-only OS, exits 1 and applies nothing', async () => {
    const dir = await tempDir();
    try {
      const root = join(dir.path, 'root');
      await mkdir(join(root, 'etc'), { recursive: true });
      const file = join(dir.path, 'user-data.yaml');
      await writeFile(file, '#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hello\n  - path: //usr/lib/x\n    content: owned\n');
      // No bus is needed to refuse it: validation comes first.
      const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir.path, 'no-bus')}` };
      const result = await runSlipway(['--proc-cmdline', join(dir.path, 'cmdline'), 'cloud-config', 'apply', '--from-file', file, '--root', root], { env });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`${file}: line 5: error: write_files[1].path: path "//usr/lib/x" (/usr/lib/x) is in the read-only OS; write under /etc, /var, /opt or /home\n`);
      expect(result.stderr).toContain(`user-data from ${file} has errors (listed above); nothing was applied`);
      await expect(stat(join(root, 'etc', 'motd'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(stat(join(root, 'usr'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await dir.remove();
    }
  });
});
