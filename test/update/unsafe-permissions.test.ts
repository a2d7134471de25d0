// A world- or group-writable keyring, settings fragment, state directory or state file is refused like
// sshd's StrictModes: `slipway update --once` and the agent's start say which path and how to fix it,
// exit 6, and nothing is read or staged. Real files with real modes, the real CLI and agent processes.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateSigningKey } from '../../images/release-key.ts';
import { publishRelease } from '../../images/publish-release.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const skip = missingTools(SGDISK);
const skipAgent = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

describe.skipIf(skip !== null)(`${skip ?? ''} slipway update --once with unsafe permissions`, () => {
  let dir: TempDir;
  let server: ReleaseServer;
  let keyring: string;
  let disk: string;
  let stateDir: string;
  let counter = 0;

  beforeAll(async () => {
    dir = await tempDir();
    const key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
    keyring = join(dir.path, 'keyring.asc');
    await writeFile(keyring, key.publicArmored);
    await writeFile(join(dir.path, 'slot.img'), randomBytes(512 * 1024));
    const www = join(dir.path, 'www');
    await publishRelease({ image: join(dir.path, 'slot.img'), version: '1.0.1', channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: key.privateArmored, outDir: www, now: new Date(), expiresInSeconds: 86_400, chunkSize: 256 * 1024 });
    server = await startReleaseServer(www);
  });
  afterAll(async () => {
    await server.close();
    await dir.remove();
  });
  beforeEach(async () => {
    await chmod(keyring, 0o644);
    disk = join(dir.path, `disk-${counter}.img`);
    stateDir = join(dir.path, `state-${counter++}`);
    await makeCoreosImage(disk);
  });

  const update = (): ReturnType<typeof runSlipway> =>
    runSlipway(['--booted', 'USR-A', 'update', '--once', '--server', server.url, '--channel', 'stable', '--keyring', keyring, '--disk', disk, '--state-dir', stateDir, '--current-version', '1.0.0', '--arch', 'x86_64', '--board', 'qemu', '--json']);

  async function expectNothingStaged(): Promise<void> {
    const state = await new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable })).read();
    expect(state.next).toBe('USR-A');
    // Refused before the manifest was asked for.
    expect(server.requests).toEqual([]);
  }

  it('refuses a world-writable keyring (exit 6, the path, its mode, the fix) before fetching anything', async () => {
    await chmod(keyring, 0o666);
    server.requests.length = 0;
    const result = await update();
    expect(result.stderr).toContain(`slipway: keyring ${keyring} is writable by group and others (mode 0666, owner uid 0); refusing to use it: run chmod go-w ${keyring} [ERR_UNSAFE_PERMISSIONS]`);
    expect(result.code).toBe(6);
    await expectNothingStaged();
  });

  it('refuses a world-writable state directory and a group-writable state file, and reads neither', async () => {
    await mkdir(stateDir);
    await chmod(stateDir, 0o777);
    server.requests.length = 0;
    const open = await update();
    expect(open.stderr).toContain(`state directory ${stateDir} is writable by group and others (mode 0777, owner uid 0); refusing to use it: run chmod go-w ${stateDir} [ERR_UNSAFE_PERMISSIONS]`);
    expect(open.code).toBe(6);
    await expectNothingStaged();

    await chmod(stateDir, 0o700);
    const file = join(stateDir, 'update-state.json');
    // A record an attacker wrote: were it read, its floor (9.9.9) would refuse 1.0.1 as a downgrade.
    const planted = '{"schema":1,"status":"idle","highestAccepted":"9.9.9"}\n';
    await writeFile(file, planted);
    await chmod(file, 0o620);
    server.requests.length = 0;
    const groupWritable = await update();
    expect(groupWritable.stderr).toContain(`state file ${file} is writable by its group (mode 0620, owner uid 0); refusing to use it: run chmod go-w ${file} [ERR_UNSAFE_PERMISSIONS]`);
    expect(groupWritable.code).toBe(6);
    expect(await readFile(file, 'utf8')).toBe(planted);
    await expectNothingStaged();
  });

  it('stages as before once the modes are fixed', async () => {
    await chmod(keyring, 0o644);
    const result = await update();
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect((await stat(join(stateDir, 'update-state.json'))).mode & 0o777).toBe(0o600);
  });
});

describe.skipIf(skipAgent !== null)(`${skipAgent ?? ''} slipway agent with unsafe permissions`, () => {
  let fixture: AgentFixture;

  beforeAll(async () => {
    fixture = await startAgentFixture({ startAgent: false });
  });
  afterAll(async () => {
    await fixture.close();
  });

  /** The agent's start, which must fail: the message it exits with (its log). */
  async function refusedStart(): Promise<string> {
    const error: unknown = await fixture.startAgent().then(() => null, (e: unknown) => e);
    if (error === null) {
      await fixture.stopAgent();
      throw new Error('the agent started');
    }
    return (error as Error).message;
  }

  it('refuses to start with a world-writable settings fragment, naming it, and reads none of it', async () => {
    const fragment = join(fixture.dir, 'config.d', '50-test.yaml');
    await chmod(fragment, 0o666);
    const log = await refusedStart();
    expect(log).toContain('the agent exited with 6');
    expect(log).toContain(`settings fragment ${fragment} is writable by group and others (mode 0666, owner uid 0); refusing to use it: run chmod go-w ${fragment} [ERR_UNSAFE_PERMISSIONS]`);
    expect(log).not.toContain('settings loaded');
    await chmod(fragment, 0o644);
  });

  it('refuses to start with a world-writable config directory, keyring or state directory', async () => {
    const config = join(fixture.dir, 'config.d');
    await chmod(config, 0o777);
    expect(await refusedStart()).toContain(`settings directory ${config} is writable by group and others (mode 0777`);
    await chmod(config, 0o755);

    const keyring = join(fixture.dir, 'keyring.asc');
    await chmod(keyring, 0o666);
    const keyLog = await refusedStart();
    expect(keyLog).toContain(`keyring ${keyring} is writable by group and others (mode 0666, owner uid 0); refusing to use it: run chmod go-w ${keyring} [ERR_UNSAFE_PERMISSIONS]`);
    expect(keyLog).not.toContain('agent running');
    await chmod(keyring, 0o644);

    const state = join(fixture.dir, 'state');
    await mkdir(state);
    await chmod(state, 0o777);
    expect(await refusedStart()).toContain(`state directory ${state} is writable by group and others (mode 0777`);
    await rm(state, { recursive: true });
  });

  it('starts once the modes are fixed; a state directory opened up later refuses each check and plan, and status still answers', async () => {
    await fixture.startAgent();
    const status = await fixture.slipway(['status', '--json']);
    expect(status.code).toBe(0);
    const state = join(fixture.dir, 'state');
    await mkdir(state, { recursive: true });
    await chmod(state, 0o777);
    for (const command of ['check', 'plan']) {
      const refused = await fixture.slipway([command, '--json']);
      expect(refused.stderr, command).toContain(`state directory ${state} is writable by group and others (mode 0777`);
      expect(refused.code, command).toBe(6);
    }
    expect((await fixture.slipway(['status', '--json'])).code).toBe(0);
    await chmod(state, 0o700);
    const checked = await fixture.slipway(['check', '--json']);
    expect(checked.code, checked.stderr).toBe(0);
    expect(await fixture.stopAgent()).toBe(0);
  });
});
