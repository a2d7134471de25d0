// What protects a host against replays and poisoned times, end to end through `slipway update --once`
// with manifests signed by the trusted key: a signed `created` far in the future, a newest signed time
// already poisoned in the state file, a newer release whose download failed, and a state file torn or
// wrongly typed after a history that raised the floor and skipped a version.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, signDetached } from '../../images/release-key.ts';
import { PAYLOAD_FILE, publishRelease } from '../../images/publish-release.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { FLOOR_FILE, saveRecord, STATE_FILE } from '../../agent/update-io/state-file.ts';
import { advance, INITIAL_RECORD } from '../../agent/update/update-state.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { SlipwayRun } from '../builders/run-slipway.ts';
import type { UpdateEvent, UpdateRecord } from '../../agent/update/update-state.ts';

const skip = missingTools(SGDISK);
const DAY = 86_400_000;
const now = new Date();
let dir: TempDir;
let server: ReleaseServer;
let key: SigningKeyPair;
let keyring: string;
let www: string;
let disk: string;
let stateDir: string;
let counter = 0;

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(now.getTime() - 365 * DAY) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  await writeFile(join(dir.path, 'slot.img'), Buffer.concat([Buffer.alloc(256 * 1024, 1), randomBytes(256 * 1024)]));
  www = join(dir.path, 'www');
  server = await startReleaseServer(www);
});
afterAll(async () => {
  if (skip !== null) return;
  await server.close();
  await dir.remove();
});
beforeEach(async () => {
  if (skip !== null) return;
  disk = join(dir.path, `disk-${counter}.img`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
});

/** The channel holds only this release (signed now by the trusted key). */
async function publish(version: string): Promise<void> {
  await rm(www, { recursive: true, force: true });
  await mkdir(www);
  await publishRelease({
    image: join(dir.path, 'slot.img'),
    version,
    channel: 'stable',
    arch: 'x86_64',
    board: 'qemu',
    privateKeyArmored: key.privateArmored,
    outDir: www,
    now,
    expiresInSeconds: 30 * 86_400,
    chunkSize: 256 * 1024,
  });
}

/** Changes signed fields of the published manifest and signs it again with the trusted key. */
async function resign(fields: Record<string, string>): Promise<void> {
  const path = join(www, 'stable', 'manifest.json');
  const text = JSON.stringify({ ...(JSON.parse(await readFile(path, 'utf8')) as object), ...fields }, null, 2);
  await writeFile(path, text);
  await writeFile(join(www, 'stable', 'manifest.json.asc'), await signDetached(Buffer.from(text), key.privateArmored, now));
}

function update(current = '1.0.0', extra: readonly string[] = []): Promise<SlipwayRun> {
  return runSlipway(['--booted', 'USR-A', 'update', '--once', '--server', server.url, '--channel', 'stable', '--keyring', keyring, '--disk', disk, '--state-dir', stateDir,
    '--current-version', current, '--arch', 'x86_64', '--board', 'qemu', '--json', ...extra]);
}

const stateFile = (): string => join(stateDir, STATE_FILE);
const record = async (): Promise<UpdateRecord> => JSON.parse(await readFile(stateFile(), 'utf8')) as UpdateRecord;

/** The state machine's own events for what the daemon does between runs, saved the way it saves them. */
async function apply(...events: UpdateEvent[]): Promise<UpdateRecord> {
  const next = events.reduce(advance, await record());
  await saveRecord(stateDir, next);
  return next;
}

const chooser = (): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));

async function slotBBootable(): Promise<boolean> {
  const state = await chooser().read();
  return state.next === 'USR-B' || (state.slots[1]?.priority ?? 0) > 0;
}

describe.skipIf(skip !== null)(`${skip ?? ''} signed times and the anti-replay floor`, () => {
  it('refuses a signed manifest created far in the future: the newest time seen stays, nothing is charged, and the next sane manifest installs', async () => {
    await publish('1.0.1');
    await resign({ created: new Date(now.getTime() + 3650 * DAY).toISOString(), expires: new Date(now.getTime() + 3680 * DAY).toISOString() });
    for (let run = 0; run < 3; run++) {
      const refused = await update();
      expect(refused.stderr).toContain('[ERR_MANIFEST_FROM_FUTURE]');
      expect(refused.code).toBe(5);
      expect(await record()).toMatchObject({ status: 'idle', lastKnownTime: null, failures: {}, skipped: [], highestAccepted: null, lastError: { code: 'ERR_MANIFEST_FROM_FUTURE' } });
    }
    expect(await slotBBootable()).toBe(false);
    // The publisher fixes its clock and signs the same version again: not blocked by the refusals.
    await publish('1.0.1');
    const fixed = await update();
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect(Date.parse((await record()).lastKnownTime ?? '')).toBeLessThanOrEqual(now.getTime() + 1000);
  });

  it('takes the bound from --max-clock-skew, and refuses one under a minute', async () => {
    await publish('1.0.1');
    await resign({ created: new Date(now.getTime() + 2 * 3_600_000).toISOString() });
    const refused = await update('1.0.0', ['--max-clock-skew', '1h']);
    expect(refused.stderr).toContain('more than 1h ahead of this host\'s clock');
    expect(refused.code).toBe(5);
    const usage = await update('1.0.0', ['--max-clock-skew', '30s']);
    expect(usage.stderr).toContain('--max-clock-skew must be a duration of at least 1m');
    expect(usage.code).toBe(2);
    expect(JSON.parse((await update()).stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
  });

  it('is not frozen by a newest signed time already poisoned in the state file: it is clamped, logged, and updates go on', async () => {
    const checked = new Date(now.getTime() - 3_600_000).toISOString();
    // Written by an agent without the bound: a far-future `created` was taken, every check since said "clock behind".
    await mkdir(stateDir, { recursive: true });
    await writeFile(stateFile(), JSON.stringify({ ...INITIAL_RECORD, lastKnownTime: '2099-01-01T00:00:00.000Z', lastCheck: { at: checked, result: 'error ERR_CLOCK_BEHIND' } }));
    await publish('1.0.1');
    const result = await update();
    expect(result.stderr).toContain('2099-01-01T00:00:00.000Z');
    expect(result.stderr).toContain('clamped');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect((await record()).lastKnownTime).toBe(new Date(Date.parse(checked) + DAY).toISOString());
  });

  it.each([
    ['its payload is missing (404)', 7, () => rm(join(www, 'stable', 'releases', '1.0.2', PAYLOAD_FILE))],
    ['its payload does not hash as signed', 6, async () => {
      const path = join(www, 'stable', 'releases', '1.0.2', PAYLOAD_FILE);
      const bytes = await readFile(path);
      bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0x01;
      await writeFile(path, bytes);
    }],
  ] as const)('refuses a replayed older manifest after a newer one verified although %s', async (_name, exit, breakPayload) => {
    await publish('1.0.2');
    await breakPayload();
    const failed = await update();
    expect(failed.code).toBe(exit);
    expect(await record()).toMatchObject({ highestAccepted: '1.0.2' });
    // An attacker serves the old, still valid and signed 1.0.1 instead.
    await publish('1.0.1');
    const replay = await update();
    expect(replay.stderr).toContain('[ERR_DOWNGRADE_REFUSED]');
    expect(replay.stderr).toContain('below 1.0.2 which this host already accepted');
    expect(replay.code).toBe(5);
    expect(await slotBBootable()).toBe(false);
  });

  it('does not move the floor for a version the policy refuses, nor on a pinned host', async () => {
    await publish('0.9.0');
    expect((await update()).code).toBe(5);
    expect(await record()).toMatchObject({ highestAccepted: null, lastError: { code: 'ERR_DOWNGRADE_REFUSED' } });
    // Pinned: the pinned release verifies and is taken, but its download fails; the floor stays.
    await apply({ type: 'pin', version: '1.0.3' });
    await publish('1.0.3');
    await rm(join(www, 'stable', 'releases', '1.0.3', PAYLOAD_FILE));
    expect((await update()).code).toBe(7);
    expect(await record()).toMatchObject({ pinned: '1.0.3', highestAccepted: null, lastError: { code: 'ERR_HTTP' } });
  });

  describe.each([
    ['torn mid-JSON', (text: string) => text.slice(0, Math.floor(text.length / 2))],
    ['garbage', () => '\u0000\u0007garbage'],
    ['a number as highestAccepted', (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), highestAccepted: 5 })],
    ['a string as the skipped list', (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), skipped: 'x' })],
    ['an unknown status', (text: string) => JSON.stringify({ ...(JSON.parse(text) as object), status: 'exploding' })],
  ])('a state file %s after a newer release was accepted and then skipped', (_name, damage) => {
    it('keeps the floor and the skipped list: a replay of an older or of the skipped release is refused, and nothing crashes', async () => {
      // 1.0.2 is staged and accepted, boots, and is rolled back from (skipped); the host runs 1.0.0 again.
      await publish('1.0.2');
      expect((await update()).code).toBe(0);
      await apply({ type: 'booted', slot: 'USR-B', version: '1.0.2' }, { type: 'skip', version: '1.0.2', reason: 'rolled back by an operator' }, { type: 'booted', slot: 'USR-A', version: '1.0.0' });
      await chooser().markUnbootable('USR-B');
      await writeFile(stateFile(), damage(await readFile(stateFile(), 'utf8')));

      await publish('1.0.1');
      const older = await update();
      expect(older.stderr).toContain(`${stateFile()} was unreadable`);
      expect(older.stderr).toContain('[ERR_DOWNGRADE_REFUSED]');
      expect(older.stderr).toContain('below 1.0.2 which this host already accepted');
      expect(older.code).toBe(5);

      await publish('1.0.2');
      const skipped = await update();
      expect(skipped.code).toBe(0);
      expect(JSON.parse(skipped.stdout)).toMatchObject({ result: 'up-to-date', reason: 'skipping 1.0.2: rolled back by an operator' });
      expect(await slotBBootable()).toBe(false);
    });
  });

  it('with both copies of the state lost, rebuilds the floor from the running version and goes on', async () => {
    await publish('1.0.2');
    expect((await update()).code).toBe(0);
    await writeFile(stateFile(), '{"schema": 1, "status": "upd');
    await writeFile(join(stateDir, FLOOR_FILE), '\u0000');
    await publish('1.0.0');
    const result = await update();
    expect(result.stderr).toContain('the floor rebuilt from the running version');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'up-to-date', version: '1.0.0' });
    expect(await record()).toMatchObject({ status: 'idle', highestAccepted: '1.0.0', slotVersions: { 'USR-A': '1.0.0' } });
  });
});
