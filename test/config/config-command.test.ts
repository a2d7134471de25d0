// `slipway config show` in-process on real fragment files: YAML that loads back as the same
// settings, JSON, the etcd password hidden, sources listed, warnings on stderr, errors passed up.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { tempDir } from '../builders/coreos-disk.ts';
import { CONFIG_USAGE, runConfig } from '../../agent/cli/config-command.ts';
import { loadSettings } from '../../agent/config/load-settings.ts';
import { HOST_PATHS } from '../../agent/slots/boot-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { ConfigDeps } from '../../agent/cli/config-command.ts';

let dir: TempDir;
beforeEach(async () => {
  dir = await tempDir('slipway-config-cli-');
});
afterEach(async () => {
  await dir.remove();
});

const SECRET = 'correct-horse-battery';
const FRAGMENT = `update:
  servers: [https://updates.example/stable]
  first_check: 90s
  interval: 1h30m
slots:
  chooser: gptprio
reboot:
  windows: [{ start: "Thu 04:00", length: 1h }]
lock:
  etcd:
    endpoints: [http://10.0.2.2:2379]
    password: ${SECRET}
`;

async function run(argv: string[], files: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; deps: ConfigDeps }> {
  const etc = join(dir.path, 'etc');
  await mkdir(etc, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(etc, name), text);
  let stdout = '';
  let stderr = '';
  const deps: ConfigDeps = {
    io: { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), host: HOST_PATHS },
    loadSettings: () => loadSettings({ dirs: [etc], updateConf: null, locksmithDropIns: [] }),
  };
  const code = await runConfig(argv, deps);
  return { code, stdout, stderr, deps };
}

describe('slipway config show', () => {
  it('prints the settings as a fragment, the password hidden, then the sources as comments', async () => {
    const { code, stdout, stderr } = await run(['show'], { '50-admin.yaml': FRAGMENT });
    expect(code).toBe(0);
    expect(stdout).not.toContain(SECRET);
    const shown = parse(stdout) as { update: Record<string, unknown>; lock: { etcd: Record<string, unknown> }; reboot: Record<string, unknown> };
    expect(shown.lock.etcd.password).toBe('<hidden>');
    expect(shown.update).toMatchObject({ servers: ['https://updates.example/stable'], first_check: '1m30s', interval: '1h30m', checks: true });
    expect(shown.reboot.windows).toEqual([{ start: 'Thu 04:00', length: '1h' }]);
    expect(stdout.endsWith(`# from, in the order applied:\n#   ${join(dir.path, 'etc', '50-admin.yaml')}\n`)).toBe(true);
    expect(stderr).toBe('');
  });

  it('prints YAML that loads back into the same settings', async () => {
    const { stdout } = await run(['show'], { '50-admin.yaml': FRAGMENT });
    const first = await loadSettings({ dirs: [join(dir.path, 'etc')], updateConf: null, locksmithDropIns: [] });
    await mkdir(join(dir.path, 'again'));
    await writeFile(join(dir.path, 'again', '50-shown.yaml'), stdout);
    const again = await loadSettings({ dirs: [join(dir.path, 'again')], updateConf: null, locksmithDropIns: [] });
    expect(again.settings).toEqual({ ...first.settings, lock: { ...first.settings.lock, etcd: { ...first.settings.lock.etcd, password: '<hidden>' } } });
  });

  it('speaks JSON with --json', async () => {
    const { code, stdout } = await run(['show', '--json'], { '50-admin.yaml': FRAGMENT });
    expect(code).toBe(0);
    expect(stdout).not.toContain(SECRET);
    const shown = JSON.parse(stdout) as { settings: { lock: { etcd: { password: unknown; endpoints: unknown } } }; sources: unknown };
    expect(shown.settings.lock.etcd).toMatchObject({ password: '<hidden>', endpoints: ['http://10.0.2.2:2379'] });
    expect(shown.sources).toEqual([join(dir.path, 'etc', '50-admin.yaml')]);
  });

  it('shows a password that is not set as null, says when only defaults apply, and warns on stderr', async () => {
    const { stdout, stderr } = await run(['show'], {});
    expect((parse(stdout) as { lock: { etcd: { password: unknown } } }).lock.etcd.password).toBeNull();
    expect(stdout.endsWith('# from: no files (built-in defaults)\n')).toBe(true);
    expect(stderr).toBe(
      'slipway: warning: slots.chooser: grubenv (the default) needs slots.grubenv, which no file sets\n' + 'slipway: warning: update.checks: true (the default) needs update.servers, which no file sets\n',
    );
  });

  it('lets a configuration error through for the CLI to print and map', async () => {
    await expect(run(['show'], { '50-bad.yaml': 'reboot:\n  stratgy: "off"\n' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      message: `invalid slipway settings, 1 problem:\n${join(dir.path, 'etc', '50-bad.yaml')} line 2: unknown key "stratgy" in reboot; did you mean "strategy"?`,
    });
  });

  it('prints its usage with --help and refuses anything but show', async () => {
    expect(await run(['--help'], {})).toMatchObject({ code: 0, stdout: `${CONFIG_USAGE}\n` });
    await expect(run([], {})).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(run(['edit'], {})).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(run(['show', 'extra'], {})).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(run(['show', '--yaml'], {})).rejects.toMatchObject({ code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  });
});
