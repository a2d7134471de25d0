// The validator against a table of documents: real-world coreos-cloudinit files that must pass,
// and broken ones with the exact line and message of every problem.

import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { validateCloudConfig } from './validate.ts';
import { decodeContent } from './schema.ts';

const KEY = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0g+ZTxC7weoIJLUafOgrm+h core@example';
const doc = (...lines: string[]): string => `${lines.join('\n')}\n`;

describe('documents coreos-cloudinit users bring', () => {
  it.each([
    [
      'CoreOS docs: etcd2, fleet and units (deprecated sections warn)',
      doc(
        '#cloud-config',
        'coreos:',
        '  etcd2:',
        '    discovery: "https://discovery.etcd.io/<token>"',
        '  fleet:',
        '    public-ip: $public_ipv4',
        '  units:',
        '    - name: etcd2.service',
        '      command: start',
        '    - name: fleet.service',
        '      command: start',
        'ssh_authorized_keys:',
        `  - ${KEY}`,
      ),
      ['line 3: warning: coreos.etcd2 is not supported by slipway hosts and is ignored', 'line 5: warning: coreos.fleet is not supported by slipway hosts and is ignored'],
    ],
    [
      'Flatcar-style update, locksmith window, drop-ins, users and files',
      doc(
        '#cloud-config',
        'hostname: worker-7',
        'coreos:',
        '  update:',
        '    reboot-strategy: "etcd-lock"',
        '    group: stable',
        '  locksmith:',
        '    window-start: Thu 04:00',
        '    window-length: 1h',
        '    endpoint: http://10.0.2.2:2379',
        '  units:',
        '    - name: docker.service',
        '      drop-ins:',
        '        - name: 50-insecure-registry.conf',
        '          content: |',
        '            [Service]',
        '            Environment=DOCKER_OPTS=--insecure-registry="10.0.1.0/24"',
        '    - name: app.service',
        '      enable: true',
        '      content: |',
        '        [Unit]',
        '        Description=App',
        '        [Service]',
        '        ExecStart=/usr/bin/podman run --rm \\',
        '          docker.io/library/nginx',
        'users:',
        '  - name: elroy',
        '    passwd: $6$5s2u6/jR$un0AvWnqilcgaNB3Mkxd5yYv6mTlWfOoCYHZmfi3LDKVltj.E8XNKEcwWm',
        '    groups: [sudo, docker]',
        '    ssh-authorized-keys:',
        `      - ${KEY}`,
        'write_files:',
        '  - path: /etc/resolv.conf',
        '    permissions: 0644',
        '    owner: root',
        '    content: |',
        '      nameserver 8.8.8.8',
        '  - path: /opt/app/config.gz',
        '    encoding: gzip+base64',
        `    content: ${gzipSync('hello').toString('base64')}`,
        '    permissions: "0600"',
        '    owner: core:core',
        'manage_etc_hosts: localhost',
      ),
      [],
    ],
  ])('%s', (_name, text, expected) => {
    const { report, config } = validateCloudConfig(text);
    expect(report.format()).toBe(expected.map((line) => `${line}\n`).join(''));
    expect(config).not.toBeNull();
  });

  it('normalizes dashes in keys to underscores in the result', () => {
    const { config } = validateCloudConfig(doc('#cloud-config', 'coreos:', '  update:', '    reboot-strategy: reboot'));
    expect(config).toEqual({ coreos: { update: { reboot_strategy: 'reboot' } } });
  });

  it('accepts a #! script and empty user-data without YAML checks', () => {
    expect(validateCloudConfig('#!/bin/bash\necho hi\n')).toMatchObject({ kind: 'script', config: null });
    expect(validateCloudConfig('')).toMatchObject({ kind: 'empty' });
    expect(validateCloudConfig('#!/bin/bash\n').report.problems).toEqual([]);
  });
});

describe('broken documents: every problem, with its line', () => {
  it.each([
    ['no header', doc('hostname: x'), ['line 1: error: the first line must be "#cloud-config" (or "#!" for a script)']],
    ['invalid YAML', doc('#cloud-config', 'hostname: [a', 'users: x'), ['line 3: error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['duplicate key', doc('#cloud-config', 'hostname: a', 'hostname: b'), ['line 3: error: Map keys must be unique']],
    [
      'unknown keys with hints, wrong types',
      doc('#cloud-config', 'hostnme: a', 'ssh_authorized_keys: ssh-rsa AAAA', 'coreos:', '  unitz: []', 'write_files:', '  - content: x'),
      [
        'line 2: warning: unknown key "hostnme"; did you mean "hostname"?',
        'line 3: error: ssh_authorized_keys must be a list',
        'line 5: warning: unknown key "unitz" in coreos; did you mean "units"?',
        'line 7: error: write_files[0] needs "path"',
      ],
    ],
    [
      'YAML 1.1 surprises: unquoted off; permissions that are not octal digits',
      doc('#cloud-config', 'coreos:', '  update:', '    reboot_strategy: off', 'write_files:', '  - path: /etc/a', '    permissions: 648', '  - path: /etc/b', '    permissions: 0x1a4'),
      [
        'line 4: warning: coreos.update.reboot_strategy: unquoted off is a boolean in YAML 1.1; read as "off" (quote it to be sure)',
        'line 7: error: write_files[0].permissions: "648" is not an octal mode like "0644"',
        'line 9: error: write_files[1].permissions: "0x1a4" is not an octal mode like "0644"',
      ],
    ],
    [
      'invalid values',
      doc(
        '#cloud-config',
        'hostname: -bad-',
        'coreos:',
        '  update:',
        '    reboot_strategy: sometimes',
        '  locksmith:',
        '    window_start: "25:00"',
        '    window_length: forever',
        '  units:',
        '    - name: web',
        '      command: launch',
        '      enable: "yes please"',
        '      content: |',
        '        ExecStart=/bin/true',
        'write_files:',
        '  - path: ../etc/passwd',
        '    permissions: "rw-r--r--"',
        '    encoding: base64',
        '    content: "%%%"',
      ),
      [
        'line 2: error: hostname: "-bad-" is not a valid hostname',
        'line 5: error: coreos.update.reboot_strategy: must be one of etcd-lock, reboot, best-effort, off, not "sometimes"',
        'line 7: error: coreos.locksmith.window_start: window start "25:00" is not a time of day',
        'line 8: error: coreos.locksmith.window_length: "forever" is not a duration like 1h30m',
        'line 10: error: coreos.units[0].name: "web" is not a systemd unit name (like app.service)',
        'line 11: error: coreos.units[0].command: must be one of start, stop, restart, reload, try-restart, reload-or-restart, reload-or-try-restart, not "launch"',
        'line 12: error: coreos.units[0].enable must be true or false',
        'line 13: error: coreos.units[0].content: unit content line 1 has Key=Value before any [Section]',
        'line 16: error: write_files[0].path: path "../etc/passwd" must be absolute',
        'line 16: error: write_files[0]: content of ../etc/passwd is not valid base64',
        'line 17: error: write_files[0].permissions: "rw-r--r--" is not an octal mode like "0644"',
      ],
    ],
    [
      'paths into the read-only OS, also by way of ..',
      doc('#cloud-config', 'write_files:', '  - path: /usr/bin/docker', '  - path: /etc/../usr/x'),
      [
        'line 3: error: write_files[0].path: path "/usr/bin/docker" is in the read-only OS; write under /etc, /var, /opt or /home',
        'line 4: error: write_files[1].path: path "/etc/../usr/x" (/usr/x) is in the read-only OS; write under /etc, /var, /opt or /home',
      ],
    ],
  ])('%s', (_name, text, expected) => {
    const { report, config } = validateCloudConfig(text);
    expect(report.format()).toBe(expected.map((line) => `${line}\n`).join(''));
    expect(config === null).toBe(expected.some((line) => line.includes(': error: ')));
  });

  it('never prints a secret it refuses', () => {
    const { report } = validateCloudConfig(doc('#cloud-config', 'users:', '  - name: core', '    passwd: [hunter2]', 'coreos:', '  locksmith:', '    etcd_password: [s3cret]'));
    expect(report.format()).not.toMatch(/hunter2|s3cret/);
    expect(report.hasErrors).toBe(true);
  });

  it('caps alias expansion (a billion-laughs document) and size', () => {
    const bomb = doc('#cloud-config', 'a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]');
    expect(validateCloudConfig(bomb).report.hasErrors).toBe(true);
    const huge = `#cloud-config\nhostname: ${'a'.repeat(1024 * 1024)}\n`;
    expect(validateCloudConfig(huge).report.format()).toMatch(/^line 1: error: user-data is \d+ bytes; the limit is 1048576\n$/);
  });
});

describe('the config as apply reads it', () => {
  it('undoes YAML 1.1 surprises, reads modes, drops unknown keys and follows aliases', () => {
    const { config } = validateCloudConfig(
      doc(
        '#cloud-config',
        'coreos:',
        '  update:',
        '    reboot-strategy: off',
        '  units:',
        '    - &app',
        '      name: app.service',
        '      command: start',
        '    - *app',
        'write_files:',
        '  - path: /etc/a',
        '    permissions: 0600',
        '  - path: /etc/b',
        '    permissions: "0755"',
        '    colour: blue',
        '  - path: /etc/c',
        '    permissions: 644',
      ),
    );
    expect(config).toEqual({
      coreos: { update: { reboot_strategy: 'off' }, units: [{ name: 'app.service', command: 'start' }, { name: 'app.service', command: 'start' }] },
      write_files: [
        { path: '/etc/a', permissions: 0o600 },
        { path: '/etc/b', permissions: 0o755 },
        // coreos-cloudinit parses the digits as written in base 8: unquoted 644 is 0644, not decimal 644.
        { path: '/etc/c', permissions: 0o644 },
      ],
    });
  });
});

describe('hostile spellings of a path (issue 18)', () => {
  const READ_ONLY = 'is in the read-only OS; write under /etc, /var, /opt or /home';
  it.each([
    ['//usr/lib/x', `path "//usr/lib/x" (/usr/lib/x) ${READ_ONLY}`],
    ['/./usr/bin/x', `path "/./usr/bin/x" (/usr/bin/x) ${READ_ONLY}`],
    ['/usr/../usr/lib/x', `path "/usr/../usr/lib/x" (/usr/lib/x) ${READ_ONLY}`],
    ['/etc/../usr/lib/x', `path "/etc/../usr/lib/x" (/usr/lib/x) ${READ_ONLY}`],
    ['/usr//lib/x', `path "/usr//lib/x" (/usr/lib/x) ${READ_ONLY}`],
    ['/var/../../usr/x', 'path "/var/../../usr/x" climbs above / with ".."'],
    ['/usr', `path "/usr" ${READ_ONLY}`],
    ['//boot/', `path "//boot/" (/boot) ${READ_ONLY}`],
    ['/sys/./kernel/x', `path "/sys/./kernel/x" (/sys/kernel/x) ${READ_ONLY}`],
    ['/..', 'path "/.." climbs above / with ".."'],
    ['/etc/..', 'path "/etc/.." (/) names no file'],
    ['etc/x', 'path "etc/x" must be absolute'],
    ['./etc/x', 'path "./etc/x" must be absolute'],
  ])('refuses %s in every path-taking field, naming the field and its index, and applies nothing', (path, problem) => {
    const text = doc(
      '#cloud-config',
      'write_files:',
      '  - path: /etc/fine',
      `  - path: "${path}"`,
      'users:',
      '  - name: ops',
      `    homedir: "${path}"`,
      'coreos:',
      '  locksmith:',
      `    etcd_cafile: "${path}"`,
    );
    const { report, config } = validateCloudConfig(text);
    expect(report.format()).toBe(
      [`line 4: error: write_files[1].path: ${problem}`, `line 7: error: users[0].homedir: ${problem}`, `line 10: error: coreos.locksmith.etcd_cafile: ${problem}`].map((line) => `${line}\n`).join(''),
    );
    expect(config).toBeNull();
  });

  it.each([
    ['/etc/./x', '/etc/x'],
    ['/etc//x', '/etc/x'],
    ['/var/lib/../x', '/var/x'],
    ['//home/ops/', '/home/ops'],
    ['/opt/usr/x', '/opt/usr/x'],
    ['/usrlocal/x', '/usrlocal/x'],
  ])('accepts %s and uses it as %s in every path-taking field', (path, normal) => {
    const text = doc('#cloud-config', 'write_files:', `  - path: "${path}"`, 'users:', '  - name: ops', `    homedir: "${path}"`, 'coreos:', '  locksmith:', `    etcd_keyfile: "${path}"`);
    const { report, config } = validateCloudConfig(text);
    expect(report.format()).toBe('');
    expect(config?.write_files?.[0]?.path).toBe(normal);
    expect(config?.users?.[0]?.homedir).toBe(normal);
    expect(config?.coreos?.locksmith?.etcd_keyfile).toBe(normal);
  });
});

describe('coreos-cloudinit documents from the field (issue 19)', () => {
  const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@laptop';

  it('takes SSH keys with an options prefix as authorized_keys does, and refuses a line that is not one', () => {
    const withOptions = [`command="/usr/bin/uptime",no-pty,from="10.0.0.0/8" ${KEY}`, `restrict ${KEY}`, `environment="A=b c",no-agent-forwarding ${KEY}`];
    const { report, config } = validateCloudConfig(doc('#cloud-config', 'ssh_authorized_keys:', ...withOptions.map((k) => `  - '${k}'`)));
    expect(report.format()).toBe('');
    expect(config?.ssh_authorized_keys).toEqual(withOptions);
    const bad = validateCloudConfig(doc('#cloud-config', 'ssh_authorized_keys:', `  - 'command="x" no-pty ${KEY}'`, '  - ssh-ed25519'));
    expect(bad.report.format()).toBe(
      'line 3: error: ssh_authorized_keys[0]: is not an SSH public key (an authorized_keys line: [options] type key [comment])\n' +
        'line 4: error: ssh_authorized_keys[1]: is not an SSH public key (an authorized_keys line: [options] type key [comment])\n',
    );
  });

  it('reads !!binary content as bytes, then applies its encoding as coreos-cloudinit does', () => {
    const script = Buffer.from('#!/bin/sh\necho hi\n');
    const { report, config } = validateCloudConfig(
      doc(
        '#cloud-config',
        'write_files:',
        '  - path: /opt/bin/gz',
        '    encoding: gzip',
        `    content: !!binary ${gzipSync(script).toString('base64')}`,
        '  - path: /opt/bin/raw',
        `    content: !!binary ${Buffer.from([0, 255, 10]).toString('base64')}`,
      ),
    );
    expect(report.format()).toBe('');
    const [gz, raw] = config?.write_files ?? [];
    expect(decodeContent(gz?.content ?? '', gz?.encoding)).toEqual(script);
    expect(decodeContent(raw?.content ?? '', raw?.encoding)).toEqual(Buffer.from([0, 255, 10]));
    const notGzip = validateCloudConfig(doc('#cloud-config', 'write_files:', '  - path: /opt/x', '    encoding: gz', `    content: !!binary ${Buffer.from('plain').toString('base64')}`));
    expect(notGzip.report.format()).toMatch(/^line 3: error: write_files\[0\]: content of \/opt\/x cannot be decoded as gz: /);
  });

  it('takes .network, .netdev and .link units for networkd, refusing a command or enable there', () => {
    const { report, config } = validateCloudConfig(
      doc('#cloud-config', 'coreos:', '  units:', '    - name: 10-static.network', '      content: |', '        [Match]', '        Name=eth0', '    - name: 20-br.netdev', '      runtime: true', '      content: "[NetDev]\\nName=br0\\nKind=bridge\\n"', '    - name: 30-mtu.link', '      mask: true'),
    );
    expect(report.format()).toBe('');
    expect(config?.coreos?.units?.map((u) => u.name)).toEqual(['10-static.network', '20-br.netdev', '30-mtu.link']);
    const started = validateCloudConfig(doc('#cloud-config', 'coreos:', '  units:', '    - name: eth.network', '      command: start', '      enable: true'));
    expect(started.report.format()).toBe('line 4: error: coreos.units[0]: eth.network is read by systemd-networkd, which slipway reloads after writing it; it takes no command and no enable\n');
  });
});

describe('slipway.image_trust', () => {
  const PUBLIC = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZ\n-----END PGP PUBLIC KEY BLOCK-----';
  const PRIVATE = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlFgEZ\n-----END PGP PRIVATE KEY BLOCK-----';
  const entry = (prefix: string, key: string, lookaside = 'http://10.0.2.2:8081/sigstore'): string[] => [
    `    - prefix: ${prefix}`,
    `      lookaside: ${lookaside}`,
    '      keys:',
    '        - |',
    ...key.split('\n').map((line) => `          ${line}`),
  ];

  it('takes registry prefixes with their public keys and lookaside', () => {
    const { report, config } = validateCloudConfig(doc('#cloud-config', 'slipway:', '  image_trust:', ...entry('10.0.2.2:5000', PUBLIC), ...entry('registry.example.com/team', PUBLIC)));
    expect(report.format()).toBe('');
    expect(config?.slipway?.image_trust?.map((e) => e.prefix)).toEqual(['10.0.2.2:5000', 'registry.example.com/team']);
  });

  it('refuses a prefix with a tag, a private key (without printing it), a lookaside that is not http, and a prefix given twice', () => {
    const { report, config } = validateCloudConfig(
      doc('#cloud-config', 'slipway:', '  image_trust:', ...entry('Registry.example.com/app:1', PUBLIC), ...entry('a.example', PRIVATE, 'file:///srv/sig'), ...entry('a.example', PUBLIC)),
    );
    expect(config).toBeNull();
    const text = report.format();
    expect(text).toContain('slipway.image_trust[0].prefix: "Registry.example.com/app:1" is not a registry prefix like registry.example.com:5000/team (no tag, no digest, lower case)');
    expect(text).toContain('slipway.image_trust[1].keys[0]: holds a private key; give only the public key');
    expect(text).toContain('slipway.image_trust[1].lookaside: "file:///srv/sig" must be an http or https URL');
    expect(text).toContain('slipway: prefix a.example is given twice');
    expect(text).not.toContain('lFgEZ');
  });
});
