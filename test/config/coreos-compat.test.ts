// CoreOS's own files as settings: /etc/coreos/update.conf and the locksmithd drop-ins that
// coreos-cloudinit writes, their problems with file and line, and where they rank among fragments.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tempDir } from '../builders/coreos-disk.ts';
import { parseDropIn, parseEnvFile } from '../../agent/config/coreos-compat.ts';
import { loadSettings } from '../../agent/config/load-settings.ts';
import { DEFAULT_SETTINGS } from '../../agent/config/settings.ts';
import { agentFragment } from '../../cloud-config/agent-fragment.ts';
import { validateCloudConfig } from '../../cloud-config/validate.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { LoadSettingsOptions } from '../../agent/config/load-settings.ts';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('slipway-compat-');
});
afterEach(async () => {
  await dir.remove();
});

const DROP_INS = ['run/systemd/20-cloudinit.conf', 'etc/systemd/20-cloudinit.conf'];

async function layers(files: Record<string, string>): Promise<LoadSettingsOptions> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir.path, name)), { recursive: true });
    await writeFile(join(dir.path, name), text);
  }
  return {
    dirs: ['usr', 'run', 'etc'].map((d) => join(dir.path, d, 'config.d')),
    updateConf: join(dir.path, 'etc/coreos/update.conf'),
    locksmithDropIns: [...DROP_INS, 'etc/systemd/30-more.conf'].map((p) => join(dir.path, p)),
  };
}
const at = (name: string): string => join(dir.path, name);
const BASE = 'slots:\n  chooser: gptprio\n';

async function failure(files: Record<string, string>): Promise<string> {
  const error: unknown = await loadSettings(await layers(files)).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected loadSettings to fail');
  return error.message.replaceAll(dir.path, 'ROOT');
}

describe('/etc/coreos/update.conf', () => {
  it('gives the server, channel and reboot strategy, and warns about keys slipway does not use', async () => {
    const conf = '# written by hand\nGROUP=beta\nSERVER="https://updates.example/beta"\n\nREBOOT_STRATEGY=\'best-effort\'\nMACHINE_ALIAS=rack-4\ntoString=x\n';
    const { settings, sources, warnings } = await loadSettings(await layers({ 'usr/config.d/00-base.yaml': BASE, 'etc/coreos/update.conf': conf }));
    expect(settings.update.servers).toEqual(['https://updates.example/beta']);
    expect(settings.update.channel).toBe('beta');
    expect(settings.reboot.strategy).toBe('best-effort');
    expect(sources).toEqual([at('usr/config.d/00-base.yaml'), at('etc/coreos/update.conf')]);
    expect(warnings).toEqual([`${at('etc/coreos/update.conf')} line 6: MACHINE_ALIAS: is not used by slipway; ignored`, `${at('etc/coreos/update.conf')} line 7: toString: is not used by slipway; ignored`]);
  });

  it('takes the locksmith window locksmithd reads from it', async () => {
    const conf = 'SERVER=http://u/\nLOCKSMITHD_REBOOT_WINDOW_START="Thu 04:00"\nLOCKSMITHD_REBOOT_WINDOW_LENGTH=1h30m\n';
    const { settings } = await loadSettings(await layers({ 'usr/config.d/00-base.yaml': BASE, 'etc/coreos/update.conf': conf }));
    expect(settings.reboot.windows).toEqual([{ start: 'Thu 04:00', length: '1h30m' }]);
  });

  it('reports its problems with file and line', async () => {
    const conf = 'SERVER=ftp://u/\nnot an assignment\nREBOOT_STRATEGY=sometimes\nLOCKSMITHD_REBOOT_WINDOW_START=Thu 04:00\n';
    expect(await failure({ 'usr/config.d/00-base.yaml': BASE, 'etc/coreos/update.conf': conf })).toBe(
      [
        'invalid slipway settings, 4 problems:',
        'ROOT/etc/coreos/update.conf line 2: expected KEY=VALUE',
        'ROOT/etc/coreos/update.conf line 1: SERVER: must be an http or https URL, not "ftp://u/"',
        'ROOT/etc/coreos/update.conf line 3: REBOOT_STRATEGY: must be one of etcd-lock, fleet-lock, reboot, best-effort, off, not "sometimes"',
        'ROOT/etc/coreos/update.conf line 4: LOCKSMITHD_REBOOT_WINDOW_START: needs LOCKSMITHD_REBOOT_WINDOW_LENGTH too, as locksmith does',
      ].join('\n'),
    );
  });
});

describe('locksmithd drop-ins', () => {
  const dropIn = `[Unit]
Description=written by coreos-cloudinit
[Service]
Environment="LOCKSMITHD_ENDPOINT=http://a:2379,http://b:2379"
Environment=LOCKSMITHD_GROUP=web "LOCKSMITHD_REBOOT_WINDOW_START=Sat 22:00" LOCKSMITHD_REBOOT_WINDOW_LENGTH=4h
Environment=LOCKSMITHD_ETCD_CAFILE=/etc/ssl/ca.pem LOCKSMITHD_ETCD_CERTFILE=/etc/ssl/cert.pem LOCKSMITHD_ETCD_KEYFILE=/etc/ssl/key.pem
Environment="LOCKSMITHD_ETCD_USERNAME=agent" "LOCKSMITHD_ETCD_PASSWORD=pa ss"
Environment=GOMAXPROCS=1
`;

  it('give the etcd lock, its group and credentials, and the reboot window', async () => {
    const { settings, sources, warnings } = await loadSettings(await layers({ 'usr/config.d/00-base.yaml': `${BASE}update:\n  servers: [http://u/]\n`, [DROP_INS[0] ?? '']: dropIn }));
    expect(settings.lock).toEqual({
      group: 'web',
      etcd: { endpoints: ['http://a:2379', 'http://b:2379'], caFile: '/etc/ssl/ca.pem', certFile: '/etc/ssl/cert.pem', keyFile: '/etc/ssl/key.pem', username: 'agent', password: 'pa ss', leaseSeconds: 600 },
      fleetLockUrl: null,
    });
    expect(settings.reboot.windows).toEqual([{ start: 'Sat 22:00', length: '4h' }]);
    expect(sources).toEqual([at('usr/config.d/00-base.yaml'), at(DROP_INS[0] ?? '')]);
    expect(warnings).toEqual([`${at(DROP_INS[0] ?? '')} line 8: GOMAXPROCS: is not used by slipway; ignored`]);
  });

  it('lets the /etc drop-in mask the /run one of the same name, as systemd does, and adds other names', async () => {
    const files = {
      'usr/config.d/00-base.yaml': `${BASE}update:\n  servers: [http://u/]\n`,
      'run/systemd/20-cloudinit.conf': '[Service]\nEnvironment=LOCKSMITHD_ENDPOINT=http://run:2379 LOCKSMITHD_GROUP=run\n',
      'etc/systemd/20-cloudinit.conf': '[Service]\nEnvironment=LOCKSMITHD_ENDPOINT=http://etc:2379\n',
      'etc/systemd/30-more.conf': '[Service]\nEnvironment=LOCKSMITHD_ETCD_USERNAME=more\n',
    };
    const { settings, sources } = await loadSettings(await layers(files));
    expect(settings.lock.etcd.endpoints).toEqual(['http://etc:2379']);
    expect(settings.lock.group).toBe(DEFAULT_SETTINGS.lock.group);
    expect(settings.lock.etcd.username).toBe('more');
    expect(sources).toEqual([at('usr/config.d/00-base.yaml'), at('etc/systemd/20-cloudinit.conf'), at('etc/systemd/30-more.conf')]);
  });

  it('reports their problems with file and line, never the password', async () => {
    const text = '[Service]\nEnvironment="LOCKSMITHD_ENDPOINT=http://a:2379,etcd:2379"\nEnvironment=LOCKSMITHD_REBOOT_WINDOW_START=04:00\nEnvironment=LOCKSMITHD_REBOOT_WINDOW_LENGTH=9d\nEnvironment="LOCKSMITHD_ETCD_PASSWORD=pw\n';
    expect(await failure({ 'usr/config.d/00-base.yaml': BASE, 'run/systemd/20-cloudinit.conf': text })).toBe(
      [
        'invalid slipway settings, 3 problems:',
        'ROOT/run/systemd/20-cloudinit.conf line 5: Environment=: a quote is not closed',
        'ROOT/run/systemd/20-cloudinit.conf line 2: LOCKSMITHD_ENDPOINT: must be an http or https URL, not "etcd:2379"',
        'ROOT/run/systemd/20-cloudinit.conf line 4: LOCKSMITHD_REBOOT_WINDOW_LENGTH: "9d" is not a duration like 1h30m',
      ].join('\n'),
    );
  });
});

describe('where CoreOS files rank', () => {
  it('over /usr/lib and /run fragments, under /etc fragments', async () => {
    const files = {
      'usr/config.d/10-os.yaml': `${BASE}update:\n  servers: [http://os/]\n  channel: stable\nreboot:\n  strategy: reboot\nlock:\n  group: os\n`,
      'run/config.d/20-run.yaml': 'lock:\n  etcd:\n    endpoints: [http://run:2379]\n',
      'etc/coreos/update.conf': 'GROUP=beta\nREBOOT_STRATEGY=etcd-lock\n',
      'run/systemd/20-cloudinit.conf': '[Service]\nEnvironment=LOCKSMITHD_ENDPOINT=http://coreos:2379 LOCKSMITHD_GROUP=coreos\n',
      'etc/config.d/50-admin.yaml': 'reboot:\n  strategy: "off"\nlock:\n  group: admin\n',
    };
    const { settings, sources } = await loadSettings(await layers(files));
    expect(settings.update.channel).toBe('beta');
    expect(settings.lock.etcd.endpoints).toEqual(['http://coreos:2379']);
    expect(settings.reboot.strategy).toBe('off');
    expect(settings.lock.group).toBe('admin');
    expect(sources).toEqual([at('usr/config.d/10-os.yaml'), at('run/config.d/20-run.yaml'), at('run/systemd/20-cloudinit.conf'), at('etc/coreos/update.conf'), at('etc/config.d/50-admin.yaml')]);
  });

  it('per key: over a later-named /usr/lib fragment even when an earlier-named /etc one lost to it', async () => {
    const files = {
      'usr/config.d/00-base.yaml': `${BASE}update:\n  servers: [http://u/]\n`,
      'etc/config.d/10-admin.yaml': 'update:\n  channel: admin\n  board: admin\n',
      'usr/config.d/60-os.yaml': 'update:\n  channel: os\n  board: os\n',
      'etc/coreos/update.conf': 'GROUP=coreos\n',
    };
    const { settings, sources } = await loadSettings(await layers(files));
    expect(settings.update.channel).toBe('coreos');
    // Between fragments the name decides: 60-os after 10-admin.
    expect(settings.update.board).toBe('os');
    expect(sources).toEqual([at('usr/config.d/00-base.yaml'), at('etc/coreos/update.conf'), at('etc/config.d/10-admin.yaml'), at('usr/config.d/60-os.yaml')]);
  });

  it('leaves a variable with an empty value at what the fragments say', async () => {
    const { settings } = await loadSettings(await layers({ 'usr/config.d/00-base.yaml': `${BASE}update:\n  servers: [http://u/]\n  channel: os\n`, 'etc/coreos/update.conf': 'GROUP=\nSERVER=""\n' }));
    expect(settings.update.channel).toBe('os');
    expect(settings.update.servers).toEqual(['http://u/']);
  });
});

describe('parsing', () => {
  it('splits Environment= lines as systemd does', () => {
    const text = 'Environment=A=1 "B=two words" C="mid quoted" D=esc\\"aped\n# Environment=E=commented\nEnvironment=F=1 \\\n  G=2\nExecStart=/bin/true\nEnvironment=oops\n';
    expect(parseDropIn(text)).toEqual([
      { line: 1, name: 'A', value: '1' },
      { line: 1, name: 'B', value: 'two words' },
      { line: 1, name: 'C', value: 'mid quoted' },
      { line: 1, name: 'D', value: 'esc"aped' },
      { line: 3, name: 'F', value: '1' },
      { line: 3, name: 'G', value: '2' },
      { line: 6, problem: 'Environment=: expected VAR=value assignments' },
    ]);
  });

  it('reads update.conf lines with quotes and comments', () => {
    expect(parseEnvFile('# c\nA=1\n  B = "two words"  \nC=\'x\'\nD="unbalanced\nE\n')).toEqual([
      { line: 2, name: 'A', value: '1' },
      { line: 3, name: 'B', value: 'two words' },
      { line: 4, name: 'C', value: 'x' },
      { line: 5, name: 'D', value: '"unbalanced' },
      { line: 6, problem: 'expected KEY=VALUE' },
    ]);
  });
});

describe('one CoreOS mapping for both ways in', () => {
  it('gives the same settings from coreos.update/coreos.locksmith in cloud-config as from update.conf and locksmithd drop-ins', async () => {
    const values = {
      server: 'https://updates.example/channel',
      group: 'beta',
      reboot_strategy: 'best-effort',
      lock_group: 'db west',
      endpoint: 'http://a:2379,http://b:2379',
      etcd_cafile: '/etc/ssl/ca.pem',
      etcd_certfile: '/etc/ssl/cert.pem',
      etcd_keyfile: '/etc/ssl/key.pem',
      etcd_username: 'agent',
      etcd_password: 'pa ss',
      window_start: 'Thu 04:00',
      window_length: '1h30m',
    };
    const cloudConfig = [
      '#cloud-config',
      'coreos:',
      '  update:',
      `    server: ${values.server}`,
      `    group: ${values.group}`,
      `    reboot_strategy: ${values.reboot_strategy}`,
      '  locksmith:',
      `    group: "${values.lock_group}"`,
      `    endpoint: "${values.endpoint}"`,
      ...(['etcd_cafile', 'etcd_certfile', 'etcd_keyfile', 'etcd_username', 'etcd_password', 'window_start', 'window_length'] as const).map((key) => `    ${key}: "${values[key]}"`),
      '',
    ].join('\n');
    const validation = validateCloudConfig(cloudConfig);
    expect(validation.report.hasErrors).toBe(false);
    if (validation.config === null) throw new Error('the cloud-config did not parse');
    const fragment = agentFragment(validation.config);
    if (fragment === null) throw new Error('no agent fragment was written');
    await mkdir(at('fragment/config.d'), { recursive: true });
    await writeFile(at('fragment/config.d/50-cloud-config.yaml'), fragment);
    const fromCloudConfig = await loadSettings({ dirs: [at('fragment/config.d')], updateConf: null, locksmithDropIns: [] });

    const files = await layers({
      'etc/coreos/update.conf': `SERVER=${values.server}\nGROUP=${values.group}\nREBOOT_STRATEGY=${values.reboot_strategy}\n`,
      [DROP_INS[0] ?? '']: [
        '[Service]',
        `Environment="LOCKSMITHD_GROUP=${values.lock_group}"`,
        `Environment=LOCKSMITHD_ENDPOINT=${values.endpoint}`,
        ...(['etcd_cafile', 'etcd_certfile', 'etcd_keyfile', 'etcd_username', 'etcd_password'] as const).map((key) => `Environment="LOCKSMITHD_${key.toUpperCase()}=${values[key]}"`),
        `Environment="LOCKSMITHD_REBOOT_WINDOW_START=${values.window_start}" LOCKSMITHD_REBOOT_WINDOW_LENGTH=${values.window_length}`,
        '',
      ].join('\n'),
    });
    const fromCoreosFiles = await loadSettings(files);

    expect(fromCloudConfig.settings).toEqual(fromCoreosFiles.settings);
    expect(fromCoreosFiles.settings).not.toEqual(DEFAULT_SETTINGS);
    expect(fromCoreosFiles.settings.lock).toMatchObject({ group: 'db west', etcd: { endpoints: ['http://a:2379', 'http://b:2379'], password: 'pa ss' } });
  });
});
