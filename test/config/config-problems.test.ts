// What loadSettings says about bad configuration: the exact message for each kind of mistake, all
// problems of all files in one ConfigError, keys that need one another, and secrets never shown.

import { describe, expect, it } from 'vitest';
import { useConfigLayers } from '../builders/config-layers.ts';
import { ConfigError } from '../../agent/config/config-errors.ts';
import { loadSettings } from '../../agent/config/load-settings.ts';
import { describeError } from '../../agent/cli/cli-error.ts';

const { layers, root } = useConfigLayers();

/** The ConfigError's message lines after the first, with the temp dir shown as ROOT. */
async function problemsOf(files: Record<string, string>): Promise<string[]> {
  const error: unknown = await loadSettings(await layers(files)).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  expect(error.code).toBe('ERR_CONFIG_INVALID');
  const [header, ...lines] = error.message.split('\n');
  expect(header).toBe(`invalid slipway settings, ${lines.length} problem${lines.length === 1 ? '' : 's'}:`);
  expect(error.problems).toEqual(lines);
  return lines.map((line) => line.replaceAll(root(), 'ROOT'));
}

const F = 'ROOT/etc/50-x.yaml';

describe('a bad fragment', () => {
  it.each([
    ['an unknown strategy', 'reboot:\n  strategy: sometimes\n', [`${F} line 2: reboot.strategy: must be one of etcd-lock, fleet-lock, reboot, best-effort, off, not "sometimes"`]],
    ['a misspelt key', 'reboot:\n  stratgy: "off"\n', [`${F} line 2: unknown key "stratgy" in reboot; did you mean "strategy"?`]],
    ['a misspelt section', 'updates:\n  channel: beta\n', [`${F} line 1: unknown key "updates"; did you mean "update"?`]],
    ['an unknown key with nothing like it', 'update:\n  colour: red\n', [`${F} line 2: unknown key "colour" in update`]],
    ['a key named like an object property', 'update:\n  constructor: x\n__proto__: {}\n', [`${F} line 2: unknown key "constructor" in update`, `${F} line 3: unknown key "__proto__"`]],
    ['invalid YAML', 'update:\n  servers: [http://a\n', [`${F} line 3: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`]],
    ['a duplicate key', 'update:\n  channel: a\n  channel: b\n', [`${F} line 3: invalid YAML: Map keys must be unique`]],
    ['a list for a file', '- update\n', [`${F} line 1: the file must be a mapping of keys to values, not a list`]],
    ['a word for a section', 'reboot: off\n', [`${F} line 1: reboot: must be a mapping of keys to values, not "off"`]],
    ['server and servers both', 'update:\n  server: http://a/\n  servers: [http://b/]\n', [`${F} line 3: update.servers: sets the same as update.server; use one of them`]],
    ['a YAML 1.1 boolean', 'update:\n  checks: yes\n', [`${F} line 2: update.checks: must be true or false, not "yes"`]],
    ['a short interval', 'update:\n  interval: 5s\n', [`${F} line 2: update.interval: must be at least 10s, not "5s"`]],
    ['a duration without unit', 'update:\n  first_check: 300\n', [`${F} line 2: update.first_check: must be a duration like "30s", "5m" or "1h30m", not 300`]],
    ['a rate without a unit of time', 'update:\n  min_rate: 4KiB\n', [`${F} line 2: update.min_rate: must be a byte rate like "4KiB/s", "1MB/s" or a number of bytes per second, not "4KiB"`]],
    ['a negative rate', 'update:\n  min_rate: -1\n', [`${F} line 2: update.min_rate: must be a byte rate like "4KiB/s", "1MB/s" or a number of bytes per second, not -1`]],
    ['a rate window under a second', 'update:\n  rate_window: 500ms\n', [`${F} line 2: update.rate_window: must be at least 1s, not "500ms"`]],
    ['a clock skew under a minute', 'update:\n  max_clock_skew: 30s\n', [`${F} line 2: update.max_clock_skew: must be at least 1m, not "30s"`]],
    ['too many tries', 'update:\n  tries: 11\n', [`${F} line 2: update.tries: must be a whole number from 1 to 10, not 11`]],
    ['a relative keyring', 'update:\n  keyring: keys.asc\n', [`${F} line 2: update.keyring: must be an absolute path, not "keys.asc"`]],
    ['a channel with a slash', 'update:\n  channel: a/b\n', [`${F} line 2: update.channel: must be a word without spaces or slashes, not "a/b"`]],
    ['a bad server among good ones', 'update:\n  servers:\n    - http://a/\n    - ftp://b/\n', [`${F} line 4: update.servers[1]: must be an http or https URL, not "ftp://b/"`]],
    ['a bad etcd endpoint in a comma list', 'lock:\n  etcd:\n    endpoints: http://a:2379,b:2379\n', [`${F} line 3: lock.etcd.endpoints: must be an http or https URL, not "b:2379"`]],
    ['an unknown chooser', 'slots:\n  chooser: efi\n', [`${F} line 2: slots.chooser: must be one of gptprio, grubenv, not "efi"`]],
    ['an unknown time zone', 'reboot:\n  time_zone: Mars/Olympus_Mons\n', [`${F} line 2: reboot.time_zone: must be a time zone this system knows, like "Europe/Berlin", not "Mars/Olympus_Mons"`]],
    [
      'bad windows',
      'reboot:\n  windows:\n    - start: Thu 25:00\n      length: 1h\n    - start: Thu 04:00\n      lenght: 1h\n    - start: "04:00"\n      length: 2x\n',
      [
        `${F} line 3: reboot.windows[0].start: window start "Thu 25:00" is not a time of day`,
        `${F} line 5: reboot.windows[1]: needs "length"`,
        `${F} line 6: reboot.windows[1]: unknown key "lenght"; did you mean "length"?`,
        `${F} line 8: reboot.windows[2].length: "2x" is not a duration like 1h30m`,
      ],
    ],
    ['a unit name without type', 'health:\n  critical_units: [app]\n', [`${F} line 2: health.critical_units[0]: must be a systemd unit name like app.service, not "app"`]],
    ['a zero health timeout', 'health:\n  timeout: 0s\n', [`${F} line 2: health.timeout: must be at least 1s, not "0s"`]],
    ['a settle time that is not a duration', 'health:\n  settle: 30\n', [`${F} line 2: health.settle: must be a duration like "30s", "5m" or "1h30m", not 30`]],
    ['a settle time as long as the timeout', 'health:\n  timeout: 1m\n  settle: 1m\n', [`${F} line 3: health.settle: health.settle (1m) must be shorter than health.timeout (1m), or no health gate can pass`]],
    ['a timeout shorter than the default settle', 'health:\n  timeout: 10s\n', [`${F} line 2: health.timeout: health.settle (30s) must be shorter than health.timeout (10s), or no health gate can pass`]],
    ['a network unit as a workload', 'health:\n  workload_units: [eth0.network]\n', [`${F} line 2: health.workload_units[0]: must be a systemd unit name like app.service, not "eth0.network"`]],
    [
      'bad probes',
      'health:\n  probes:\n    - name: api\n      http: { url: "ftp://x/", status: "200-99", timout: 5s }\n    - name: both\n      http: { url: "http://a/" }\n      exec: { command: [/bin/true] }\n    - name: cmd\n      exec:\n        command: [pg_isready]\n        timeout: soon\n    - name: api\n      exec: { command: [/bin/true] }\n    - http: { url: "http://a/" }\n',
      [
        `${F} line 4: health.probes[0].http: unknown key "timout"; did you mean "timeout"?`,
        `${F} line 4: health.probes[0].http.url: must be an http or https URL, not "ftp://x/"`,
        `${F} line 4: health.probes[0].http.status: must be a status code or a range like "200-399", not "200-99"`,
        `${F} line 5: health.probes[1]: needs exactly one of "http" or "exec"`,
        `${F} line 10: health.probes[2].exec.command[0]: must be an absolute path, not "pg_isready"`,
        `${F} line 11: health.probes[2].exec.timeout: must be a duration like "30s", "5m" or "1h30m", not "soon"`,
        `${F} line 12: health.probes[3].name: "api" is the name of an earlier probe; each needs its own`,
        `${F} line 14: health.probes[4]: needs "name"`,
      ],
    ],
    ['a probe named as the agent\'s own', 'health:\n  probes:\n    - name: verified-root\n      exec: { command: [/bin/true] }\n', [`${F} line 3: health.probes[0].name: "verified-root" is the agent's own dm-verity probe; choose another name`]],
    ['a lock lease too short to renew', 'lock:\n  etcd:\n    lease: 1s\n', [`${F} line 3: lock.etcd.lease: must be at least 3s, not "1s"`]],
    ['an inhibitor wait that is not a duration', 'reboot:\n  inhibitor_wait: soon\n', [`${F} line 2: reboot.inhibitor_wait: must be a duration like "30s", "5m" or "1h30m", not "soon"`]],
    ['a bare port', 'metrics:\n  listen: 9527\n', [`${F} line 2: metrics.listen: must be "host:port" like "127.0.0.1:9527", or false, not 9527`]],
    ['true for listen', 'metrics:\n  listen: true\n', [`${F} line 2: metrics.listen: must be "host:port" like "127.0.0.1:9527", or false, not true`]],
  ])('reports %s', async (_name, text, expected) => {
    expect(await problemsOf({ 'usr/00-base.yaml': 'update:\n  servers: [http://u/]\nslots:\n  chooser: gptprio\n', 'etc/50-x.yaml': text })).toEqual(expected);
  });

  it('reports every problem of every file at once, file by file in the order they apply', async () => {
    const problems = await problemsOf({
      'usr/10-os.yaml': 'update:\n  tries: 0\n  arch: [x86_64]\n',
      'run/20-run.yaml': 'reboot: {stratgy: reboot}\n',
      'etc/30-admin.yaml': 'metrics:\n  listen: "9527"\n',
      'update.conf': 'REBOOT_STRATEGY=sometimes\n',
    });
    expect(problems).toEqual([
      'ROOT/usr/10-os.yaml line 2: update.tries: must be a whole number from 1 to 10, not 0',
      'ROOT/usr/10-os.yaml line 3: update.arch: must be a string, not a list',
      'ROOT/run/20-run.yaml line 1: unknown key "stratgy" in reboot; did you mean "strategy"?',
      'ROOT/etc/30-admin.yaml line 2: metrics.listen: must be "host:port" like "127.0.0.1:9527", or false, not "9527"',
      'ROOT/update.conf line 1: REBOOT_STRATEGY: must be one of etcd-lock, fleet-lock, reboot, best-effort, off, not "sometimes"',
    ]);
  });

  it('prints every problem under the error line with the CLI\'s error printer', async () => {
    const error: unknown = await loadSettings(await layers({ 'etc/50-x.yaml': 'reboot:\n  strategy: sometimes\n' })).catch((e: unknown) => e);
    expect(describeError(error).replaceAll(root(), 'ROOT')).toBe(
      'slipway: invalid slipway settings, 1 problem:\nROOT/etc/50-x.yaml line 2: reboot.strategy: must be one of etcd-lock, fleet-lock, reboot, best-effort, off, not "sometimes" [ERR_CONFIG_INVALID]',
    );
  });
});

describe('keys that need one another', () => {
  const base = 'update:\n  servers: [http://u/]\nslots:\n  chooser: gptprio\n';
  it.each([
    ['etcd-lock without endpoints', { 'etc/50-x.yaml': 'reboot:\n  strategy: etcd-lock\nlock:\n  etcd:\n    endpoints: []\n' }, [`${F} line 2: reboot.strategy: etcd-lock needs lock.etcd.endpoints, which is empty (${F} line 5)`]],
    [
      'best-effort, endpoints emptied by another file',
      { 'usr/10-os.yaml': 'lock:\n  etcd:\n    endpoints: ""\n', 'etc/50-x.yaml': 'reboot:\n  strategy: best-effort\n' },
      [`${F} line 2: reboot.strategy: best-effort needs lock.etcd.endpoints, which is empty (ROOT/usr/10-os.yaml line 3)`],
    ],
    ['the default strategy without endpoints', { 'etc/50-x.yaml': 'lock:\n  etcd:\n    endpoints: []\n' }, [`${F} line 3: lock.etcd.endpoints: is empty, but reboot.strategy etcd-lock (the default) needs it`]],
    ['fleet-lock without a URL', { 'etc/50-x.yaml': 'reboot:\n  strategy: fleet-lock\n' }, [`${F} line 2: reboot.strategy: fleet-lock needs lock.fleet_lock_url, which no file sets`]],
    [
      'fleet-lock with the URL set to null',
      { 'usr/10-os.yaml': 'lock:\n  fleet_lock_url: null\n', 'etc/50-x.yaml': 'reboot:\n  strategy: fleet-lock\n' },
      [`${F} line 2: reboot.strategy: fleet-lock needs lock.fleet_lock_url, which is null (ROOT/usr/10-os.yaml line 2)`],
    ],
    ['grubenv without its path', { 'etc/50-x.yaml': 'slots:\n  chooser: grubenv\n' }, [`${F} line 2: slots.chooser: grubenv needs slots.grubenv, which no file sets`]],
    ['checks without a server', { 'etc/50-x.yaml': 'update:\n  checks: true\n  servers: []\n' }, [`${F} line 2: update.checks: true needs update.servers, which is empty (${F} line 3)`]],
    [
      'the strategy from update.conf',
      { 'update.conf': 'REBOOT_STRATEGY=etcd-lock\n', 'etc/50-x.yaml': 'lock:\n  etcd:\n    endpoints: []\n' },
      [`ROOT/update.conf line 1: REBOOT_STRATEGY: etcd-lock needs lock.etcd.endpoints, which is empty (${F} line 3)`],
    ],
  ])('reports %s', async (_name, files, expected) => {
    expect(await problemsOf({ 'usr/00-base.yaml': base, ...files })).toEqual(expected);
  });

  it('accepts strategies that need nothing, and a chooser that has what it needs', async () => {
    const { settings, warnings } = await loadSettings(await layers({ 'etc/50-x.yaml': 'update:\n  checks: false\nreboot:\n  strategy: reboot\nlock:\n  etcd:\n    endpoints: []\nslots:\n  grubenv: /boot/grubenv\n' }));
    expect(settings.reboot.strategy).toBe('reboot');
    expect(warnings).toEqual([]);
  });
});

describe('secrets', () => {
  const secret = 'hunter2-s3cret';
  it.each([
    ['a password of the wrong type', `lock:\n  etcd:\n    password: [${secret}]\n    username: [u]\n`],
    ['an alias named like the password', `lock:\n  etcd:\n    password: *${secret}\n`],
    ['a password in a file with other problems', `lock:\n  etcd:\n    password: ${secret}\n    pasword: ${secret}\nreboot:\n  strategy: x\n`],
    ['a drop-in assignment without "="', `[Service]\nEnvironment="LOCKSMITHD_ETCD_PASSWORD ${secret}"\n`],
    ['an update.conf line without "="', `LOCKSMITHD_ETCD_PASSWORD ${secret}\n`],
  ])('never shows the password for %s', async (name, text) => {
    const file = name.includes('drop-in') ? 'dropin/20-cloudinit.conf' : name.includes('update.conf') ? 'update.conf' : 'etc/50-x.yaml';
    const problems = await problemsOf({ [file]: text });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).not.toContain(secret);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});
