// loadSettings on real files in temporary /usr/lib, /run and /etc config.d directories: defaults,
// drop-in precedence, deep merge, conversions, the cloud-config fragment, and frozen results.

import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { useConfigLayers } from '../builders/config-layers.ts';
import { AGENT_FRAGMENT_PATH, agentFragment } from '../../cloud-config/agent-fragment.ts';
import { loadSettings } from '../../agent/config/load-settings.ts';
import { DEFAULT_SETTINGS } from '../../agent/config/settings.ts';
import type { CloudConfig } from '../../cloud-config/schema.ts';

const { layers, root } = useConfigLayers();
const at = (name: string): string => join(root(), name);
/** Settings every test needs so no default-only warning appears. */
const BASE = 'update:\n  servers: [http://updates.example/]\nslots:\n  chooser: gptprio\n';

describe('loadSettings', () => {
  it('gives the defaults, with warnings about what they lack, when no file exists', async () => {
    const { settings, sources, warnings } = await loadSettings(await layers({}));
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(sources).toEqual([]);
    expect(warnings).toEqual([
      'slots.chooser: grubenv (the default) needs slots.grubenv, which no file sets',
      'update.checks: true (the default) needs update.servers, which no file sets',
    ]);
  });

  it('reads every key, converting durations to seconds and false to null', async () => {
    const text = `update:
  server: https://updates.example/stable
  channel: beta
  arch: aarch64
  board: rpi4
  keyring: /etc/slipway/keys.asc
  state_dir: /var/lib/other
  checks: false
  first_check: 90s
  interval: 1h30m
  tries: 5
  min_rate: 8KiB/s
  rate_window: 2m
  max_clock_skew: 2h
slots:
  disk: /dev/vda
  chooser: grubenv
  grubenv: /boot/grub/grubenv
reboot:
  strategy: fleet-lock
  time_zone: Europe/Berlin
  windows:
    - { start: "Sat 22:00", length: 4h }
    - start: "03:00"
      length: 30m
  inhibitor_wait: 2m
  before: [lb-remove.service]
  after_healthy: [lb-add.service]
  hook_timeout: 2m
lock:
  group: web
  etcd:
    endpoints: http://a:2379, http://b:2379
    ca_file: /etc/ssl/ca.pem
    cert_file: /etc/ssl/cert.pem
    key_file: /etc/ssl/key.pem
    username: agent
    password: 0123
    lease: 5m
  fleet_lock_url: https://fleetlock.example/
health:
  timeout: 10m
  settle: 45s
  critical_units: [app.service, db.socket]
  workload_units: [web.service]
  probes:
    - name: api
      http: { url: "http://127.0.0.1:8080/healthz", status: "200-299", timeout: 2s }
    - name: teapot
      http: { url: "https://127.0.0.1/", status: 418 }
    - name: db
      exec:
        command: [/usr/bin/pg_isready, -q]
cloud_config:
  datasource_wait: 90s
metrics:
  listen: false
fleet:
  breaker_failures: 5
  breaker_fraction: 25%
  outcome_ttl: 72h
  report_interval: 1m
`;
    const { settings, sources, warnings } = await loadSettings(await layers({ 'etc/50-all.yaml': text }));
    expect(settings).toEqual({
      update: { servers: ['https://updates.example/stable'], channel: 'beta', arch: 'aarch64', board: 'rpi4', keyring: '/etc/slipway/keys.asc', stateDir: '/var/lib/other', checks: false, firstCheckSeconds: 90, intervalSeconds: 5400, tries: 5, minRateBytesPerSecond: 8192, rateWindowSeconds: 120, maxClockSkewSeconds: 7200 },
      slots: { disk: '/dev/vda', chooser: 'grubenv', grubenv: '/boot/grub/grubenv' },
      reboot: { strategy: 'fleet-lock', timeZone: 'Europe/Berlin', windows: [{ start: 'Sat 22:00', length: '4h' }, { start: '03:00', length: '30m' }], inhibitorWaitSeconds: 120, before: ['lb-remove.service'], afterHealthy: ['lb-add.service'], hookTimeoutSeconds: 120 },
      lock: {
        group: 'web',
        // A number written where a string is meant keeps its text: 0123, not 123.
        etcd: { endpoints: ['http://a:2379', 'http://b:2379'], caFile: '/etc/ssl/ca.pem', certFile: '/etc/ssl/cert.pem', keyFile: '/etc/ssl/key.pem', username: 'agent', password: '0123', leaseSeconds: 300 },
        fleetLockUrl: 'https://fleetlock.example/',
      },
      health: {
        timeoutSeconds: 600,
        settleSeconds: 45,
        criticalUnits: ['app.service', 'db.socket'],
        workloadUnits: ['web.service'],
        probes: [
          { name: 'api', http: { url: 'http://127.0.0.1:8080/healthz', status: { low: 200, high: 299 }, timeoutSeconds: 2 } },
          { name: 'teapot', http: { url: 'https://127.0.0.1/', status: { low: 418, high: 418 }, timeoutSeconds: 5 } },
          { name: 'db', exec: { command: ['/usr/bin/pg_isready', '-q'], timeoutSeconds: 10 } },
        ],
      },
      cloudConfig: { datasourceWaitSeconds: 90 },
      metrics: { listen: null },
      fleet: { breakerFailures: 5, breakerFraction: 0.25, outcomeTtlSeconds: 259_200, reportIntervalSeconds: 60 },
    });
    expect(sources).toEqual([at('etc/50-all.yaml')]);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['0.5', 0.5],
    ['1', 1],
    ['"20%"', 0.2],
    ['0', null],
    ['1.5', null],
    ['"half"', null],
  ])('reads fleet.breaker_fraction %s as a share in (0, 1]', async (written, expected) => {
    const loading = loadSettings(await layers({ [`etc/50-fraction-${expected ?? 'bad'}.yaml`]: `fleet:\n  breaker_fraction: ${written}\n` }));
    if (expected === null) await expect(loading).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    else expect((await loading).settings.fleet.breakerFraction).toBe(expected);
  });

  it.each([
    ['4096', 4096],
    ['"0"', null],
    ['0', 0],
    ['8KiB/s', 8192],
    ['"1.5 MiB/s"', 1572864],
    ['2MB/s', 2_000_000],
    ['100B/s', 100],
  ])('reads min_rate %s as bytes per second', async (written, expected) => {
    const loading = loadSettings(await layers({ [`etc/50-rate-${expected ?? 'bad'}.yaml`]: `update:\n  min_rate: ${written}\n` }));
    if (expected === null) await expect(loading).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    else expect((await loading).settings.update.minRateBytesPerSecond).toBe(expected);
  });

  it('lets a file in a later directory replace the same name in an earlier one entirely', async () => {
    const options = await layers({ 'usr/00-base.yaml': BASE, 'usr/50-os.yaml': 'update:\n  channel: beta\n  board: qemu\n', 'etc/50-os.yaml': 'update:\n  channel: alpha\n' });
    const { settings, sources } = await loadSettings(options);
    expect(settings.update.channel).toBe('alpha');
    // board: qemu was only in the replaced /usr/lib file.
    expect(settings.update.board).toBe('generic');
    expect(sources).toEqual([at('usr/00-base.yaml'), at('etc/50-os.yaml')]);
  });

  it('applies fragments in lexical order of name whatever their directory', async () => {
    const options = await layers({ 'usr/00-base.yaml': BASE, 'etc/10-a.yaml': 'update:\n  channel: alpha\n', 'usr/50-b.yml': 'update:\n  channel: beta\n', 'run/60-c.yaml': 'update:\n  board: qemu\n' });
    const { settings, sources } = await loadSettings(options);
    expect(settings.update.channel).toBe('beta');
    expect(settings.update.board).toBe('qemu');
    expect(sources).toEqual([at('usr/00-base.yaml'), at('etc/10-a.yaml'), at('usr/50-b.yml'), at('run/60-c.yaml')]);
  });

  it('merges mappings deeply and lets a later list replace an earlier one', async () => {
    const options = await layers({
      'usr/00-base.yaml': BASE,
      'usr/10-os.yaml': 'lock:\n  etcd:\n    endpoints: [http://a:2379]\n    username: os\nupdate:\n  servers: [http://a/, http://b/]\n',
      'run/20-run.yaml': 'lock:\n  etcd:\n    username: runtime\n',
      'etc/30-admin.yaml': 'update:\n  servers: [http://c/]\n',
    });
    const { settings } = await loadSettings(options);
    expect(settings.lock.etcd).toEqual({ ...DEFAULT_SETTINGS.lock.etcd, endpoints: ['http://a:2379'], username: 'runtime' });
    expect(settings.update.servers).toEqual(['http://c/']);
    // The defaults are copied, never written to.
    expect(DEFAULT_SETTINGS.lock.etcd.username).toBeNull();
    expect(DEFAULT_SETTINGS.update.servers).toEqual([]);
  });

  it('ignores missing directories and other file names, and takes empty files and empty sections', async () => {
    const options = await layers({ 'etc/10-base.yaml': BASE, 'etc/20-empty.yaml': '', 'etc/30-comments.yaml': '# nothing yet\nreboot:\n  # strategy: off\n', 'etc/README': 'not: yaml: at all', 'etc/40-x.yaml.bak': ':', 'etc/50-x.conf': ':' });
    const { settings, sources } = await loadSettings(options);
    expect(settings.reboot).toEqual(DEFAULT_SETTINGS.reboot);
    expect(sources).toEqual([at('etc/10-base.yaml'), at('etc/20-empty.yaml'), at('etc/30-comments.yaml')]);
  });

  it('lets an empty file in /etc mask the one of the same name in /usr/lib', async () => {
    const { settings } = await loadSettings(await layers({ 'usr/10-base.yaml': BASE, 'usr/50-os.yaml': 'reboot:\n  strategy: "off"\n', 'etc/50-os.yaml': '' }));
    expect(settings.reboot.strategy).toBe('etcd-lock');
  });

  it('loads the fragment cloud-config writes for coreos.update and coreos.locksmith', async () => {
    const config: CloudConfig = {
      coreos: {
        update: { reboot_strategy: 'etcd-lock', group: 'beta', server: 'http://10.0.2.2:8080/beta' },
        locksmith: { endpoint: 'http://10.0.2.2:2379', window_start: 'Thu 04:00', window_length: '1h', etcd_password: 'pw' },
      },
    };
    const fragment = agentFragment(config);
    if (fragment === null) throw new Error('agentFragment wrote nothing');
    const { settings, sources, warnings } = await loadSettings(await layers({ [`etc/${basename(AGENT_FRAGMENT_PATH)}`]: fragment }));
    expect(settings).toEqual({
      ...DEFAULT_SETTINGS,
      update: { ...DEFAULT_SETTINGS.update, servers: ['http://10.0.2.2:8080/beta'], channel: 'beta' },
      reboot: { ...DEFAULT_SETTINGS.reboot, strategy: 'etcd-lock', windows: [{ start: 'Thu 04:00', length: '1h' }] },
      lock: { ...DEFAULT_SETTINGS.lock, etcd: { ...DEFAULT_SETTINGS.lock.etcd, endpoints: ['http://10.0.2.2:2379'], password: 'pw' } },
    });
    expect(sources).toEqual([at('etc/50-cloud-config.yaml')]);
    expect(warnings).toEqual(['slots.chooser: grubenv (the default) needs slots.grubenv, which no file sets']);
  });

  it('makes the units cloud-config enables the health gate workloads; started-only, network and masked units left out', async () => {
    const config: CloudConfig = {
      coreos: {
        units: [
          { name: 'app.service', command: 'start', enable: true, content: '[Service]\nExecStart=/usr/bin/app\n[Install]\nWantedBy=multi-user.target\n' },
          { name: 'cron.timer', enable: true },
          { name: 'once.service', command: 'start', content: '[Service]\nExecStart=/usr/bin/once\n' },
          { name: 'web.service', command: 'restart' },
          { name: 'queue.service', command: 'reload-or-restart' },
          { name: 'old.service', command: 'stop', enable: false },
          { name: 'docs.service', content: '[Service]\nExecStart=/bin/true\n' },
          { name: 'masked.service', mask: true, enable: true },
          { name: 'tried.service', command: 'try-restart' },
          { name: 'eth0.network', content: '[Match]\nName=eth0\n' },
        ],
      },
    };
    const fragment = agentFragment(config);
    if (fragment === null) throw new Error('agentFragment wrote nothing');
    const { settings } = await loadSettings(await layers({ [`etc/${basename(AGENT_FRAGMENT_PATH)}`]: fragment }));
    // Started only, web, queue and once run on the boot that applied the document, not after a reboot.
    expect(settings.health).toEqual({ ...DEFAULT_SETTINGS.health, workloadUnits: ['app.service', 'cron.timer'] });
    expect(agentFragment({ coreos: { units: [{ name: 'eth0.network', content: '' }] } })).toBeNull();
  });

  it('returns settings frozen all the way down', async () => {
    const { settings } = await loadSettings(await layers({ 'etc/10-base.yaml': `${BASE}reboot:\n  windows: [{ start: "04:00", length: 1h }]\n` }));
    // ES modules run in strict mode, where writing to a frozen object throws.
    expect(() => {
      (settings.update as { channel: string }).channel = 'edge';
    }).toThrow(TypeError);
    expect(() => (settings.update.servers as string[]).push('http://evil/')).toThrow(TypeError);
    expect(() => {
      (settings.reboot.windows[0] as { start: string }).start = '05:00';
    }).toThrow(TypeError);
    expect(() => {
      (settings.lock.etcd as { password: string | null }).password = 'x';
    }).toThrow(TypeError);
  });
});
