// `slipway update --once` end to end: a real CLI process, a channel published with slipway's own
// key, served from loopback, written into a real disk image. Every refusal leaves the new slot
// unbootable and the old one booting; a process killed at any point is finished by a re-run.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, signDetached } from '../../images/release-key.ts';
import { publishRelease } from '../../images/publish-release.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { advance } from '../../agent/update/update-state.ts';
import type { UpdateEvent, UpdateRecord } from '../../agent/update/update-state.ts';

const skip = missingTools(SGDISK);
let dir: TempDir;
let server: ReleaseServer;
let key: SigningKeyPair;
let otherKey: SigningKeyPair;
let keyring: string;
let www: string;
let disk: string;
let stateDir: string;
let image: Buffer;
let counter = 0;
const now = new Date();

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  // Keys made long ago, so that releases can be published "in the past" for the expiry cases.
  const longAgo = new Date(now.getTime() - 365 * 86_400_000);
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: longAgo });
  otherKey = await generateSigningKey({ name: 'intruder', email: 'intruder@test.invalid', now: longAgo });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  image = Buffer.concat(Array.from({ length: 24 }, (_, i) => (i % 2 ? randomBytes(256 * 1024) : Buffer.alloc(256 * 1024, i))));
  await writeFile(join(dir.path, 'slot.img'), image);
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
  server.handle(null);
  await rm(www, { recursive: true, force: true });
  await mkdir(www);
  disk = join(dir.path, `disk-${counter}.img`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
});

async function publish(version: string, options: { key?: SigningKeyPair; at?: Date; expiresInSeconds?: number; channel?: string } = {}): Promise<void> {
  await publishRelease({
    image: join(dir.path, 'slot.img'),
    version,
    channel: options.channel ?? 'stable',
    arch: 'x86_64',
    board: 'qemu',
    privateKeyArmored: (options.key ?? key).privateArmored,
    outDir: www,
    now: options.at ?? now,
    expiresInSeconds: options.expiresInSeconds ?? 30 * 86_400,
    chunkSize: 256 * 1024,
  });
}

function updateArgs(current = '1.0.0', mirrors: string[] = [server.url]): string[] {
  // The disk image is not what this host booted from: the operator says USR-A counts as running.
  return ['--booted', 'USR-A', 'update', '--once', ...mirrors.flatMap((m) => ['--server', m]), '--channel', 'stable', '--keyring', keyring, '--disk', disk, '--state-dir', stateDir,
    '--current-version', current, '--arch', 'x86_64', '--board', 'qemu', '--json'];
}

function slipwayUpdate(current = '1.0.0', mirrors?: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(updateArgs(current, mirrors));
}

const chooser = (): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));

async function slotB(): Promise<Buffer> {
  const bytes = await readFile(disk);
  const start = (1 + 4 + 1 + 8) * 1024 * 1024;
  return bytes.subarray(start, start + image.length);
}

describe.skipIf(skip !== null)(`${skip ?? ''} slipway update --once`, () => {
  it('stages a newer signed release into the other slot', async () => {
    await publish('1.0.1');
    const result = await slipwayUpdate();
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ result: 'staged', version: '1.0.1', slot: 'USR-B', resumedFromChunk: 0, fetched: { path: 'delta', bytes: expect.any(Number) as number, requests: expect.any(Number) as number, imageBytes: image.length } });
    const state = await chooser().read();
    expect(state.next).toBe('USR-B');
    expect(state.slots[1]).toMatchObject({ tries: 1, successful: false });
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as { status: string; highestAccepted: string };
    expect(record).toMatchObject({ status: 'updated-need-reboot', highestAccepted: '1.0.1' });
    // Running again before the reboot changes nothing.
    expect(JSON.parse((await slipwayUpdate()).stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
  });

  it('tries the next mirror when the first one fails', async () => {
    await publish('1.0.1');
    const result = await slipwayUpdate('1.0.0', [`${server.url}/missing-mirror`, server.url]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect(result.stderr).toContain('mirror failed; trying the next');
  });

  it('reports up to date when the channel has the running version', async () => {
    await publish('1.0.0');
    const result = await slipwayUpdate();
    expect(JSON.parse(result.stdout)).toEqual({ result: 'up-to-date', version: '1.0.0', reason: '1.0.0 is running' });
    expect((await chooser().read()).next).toBe('USR-A');
  });

  const refusals: [string, () => Promise<void>, string, number, string?][] = [
    ['a manifest signed by a key not in the keyring', () => publish('1.0.1', { key: otherKey }), 'ERR_SIGNATURE_UNKNOWN_KEY', 6],
    ['an expired manifest (replayed after expiry)', () => publish('1.0.1', { at: new Date(now.getTime() - 40 * 86_400_000) }), 'ERR_MANIFEST_EXPIRED', 5],
    ['a release older than the running one', () => publish('0.9.0'), 'ERR_DOWNGRADE_REFUSED', 5],
    ['a release for another channel', () => publish('1.0.1', { channel: 'beta' }).then(() => rm(join(www, 'stable'), { recursive: true, force: true })).then(() => mkdir(join(www, 'stable'))).then(async () => {
      const { cp } = await import('node:fs/promises');
      await cp(join(www, 'beta'), join(www, 'stable'), { recursive: true });
    }), 'ERR_MANIFEST_WRONG_CHANNEL', 5],
  ];
  it.each(refusals)('refuses %s, leaving the old slot booting', async (_name, setup, code, exit) => {
    await setup();
    const result = await slipwayUpdate();
    expect(result.code).toBe(exit);
    expect(result.stderr).toContain(`[${code}]`);
    const state = await chooser().read();
    expect(state.next).toBe('USR-A');
    expect(state.slots[1]).toMatchObject({ priority: 0, successful: false });
  });

  it('refuses a validly signed manifest that gives a key twice: nothing staged, nothing accepted', async () => {
    await publish('1.0.1');
    // Signed with the trusted key, so only the document itself can be refused: JSON.parse would keep 9.9.9.
    const manifestPath = join(www, 'stable', 'manifest.json');
    const text = (await readFile(manifestPath, 'utf8')).replace('"version": "1.0.1",', '"version": "1.0.1",\n  "version": "9.9.9",');
    expect(text).toContain('"version": "9.9.9"');
    await writeFile(manifestPath, text);
    await writeFile(join(www, 'stable', 'manifest.json.asc'), await signDetached(Buffer.from(text), key.privateArmored, now));
    const result = await slipwayUpdate();
    expect(result.stderr).toContain('[ERR_MANIFEST_INVALID]');
    expect(result.stderr).toContain('duplicate key "version" at version');
    expect(result.code).toBe(6);
    const state = await chooser().read();
    expect(state.next).toBe('USR-A');
    expect(state.slots[1]).toMatchObject({ priority: 0, successful: false });
    const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ status: 'idle', target: null, progress: null, highestAccepted: null, lastKnownTime: null, failures: {}, lastError: { code: 'ERR_MANIFEST_INVALID' } });
  });

  // Spellings the old check took as relative that the URL parser resolves to another host.
  it.each([
    ['two backslashes', (host: string) => `\\\\${host}/stable/releases/1.0.1/payload.img.zst`],
    ['a slash and a backslash', (host: string) => `/\\${host}/stable/releases/1.0.1/payload.img.zst`],
    ['a leading tab', (host: string) => `\t//${host}/stable/releases/1.0.1/payload.img.zst`],
    ['a leading space', (host: string) => ` //${host}/stable/releases/1.0.1/payload.img.zst`],
  ])('never fetches a signed payload.url that only looks relative (%s) from another host: nothing staged', async (_name, spelling) => {
    await publish('1.0.1');
    // Another host serving a valid copy of the release: only where the agent fetches from can be judged.
    const evil = await startReleaseServer(www);
    try {
      const hostile = spelling(new URL(evil.url).host);
      const manifestPath = join(www, 'stable', 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { payload: { url: string } };
      manifest.payload.url = hostile;
      const text = `${JSON.stringify(manifest, null, 2)}\n`;
      await writeFile(manifestPath, text);
      await writeFile(join(www, 'stable', 'manifest.json.asc'), await signDetached(Buffer.from(text), key.privateArmored, now));
      const result = await slipwayUpdate();
      expect(evil.requests).toEqual([]);
      expect(result.stderr).toContain('[ERR_MANIFEST_INVALID]');
      expect(result.stderr).toContain(`payload.url ${JSON.stringify(hostile)}`);
      expect(result.code).toBe(6);
      const state = await chooser().read();
      expect(state.next).toBe('USR-A');
      expect(state.slots[1]).toMatchObject({ priority: 0, successful: false });
      const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
      expect(record).toMatchObject({ status: 'idle', target: null, progress: null, highestAccepted: null, failures: {}, lastError: { code: 'ERR_MANIFEST_INVALID' } });
    } finally {
      await evil.close();
    }
  });

  it('refuses every update with an empty keyring', async () => {
    await publish('1.0.1');
    const saved = await readFile(keyring);
    await writeFile(keyring, '');
    try {
      const result = await slipwayUpdate();
      expect(result.code).toBe(6);
      expect(result.stderr).toContain('[ERR_KEYRING_EMPTY]');
      expect((await chooser().read()).next).toBe('USR-A');
    } finally {
      await writeFile(keyring, saved);
    }
  });

  it('refuses a tampered payload byte: nothing staged, the slot left unbootable', async () => {
    await publish('1.0.1');
    const payload = join(www, 'stable', 'releases', '1.0.1', 'payload.img.zst');
    const bytes = await readFile(payload);
    const at = bytes.length - 1000;
    bytes[at] = (bytes[at] ?? 0) ^ 0x01;
    await writeFile(payload, bytes);
    const result = await slipwayUpdate();
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/\[ERR_PAYLOAD_HASH_MISMATCH\]/);
    const state = await chooser().read();
    expect(state.next).toBe('USR-A');
    expect(state.slots[1]).toMatchObject({ priority: 0, tries: 0, successful: false });
  });

  it('records a failure, and a rerun recovers by itself once the mirror serves the right frames again', async () => {
    await publish('1.0.1');
    const payload = join(www, 'stable', 'releases', '1.0.1', 'payload.img.zst');
    const good = await readFile(payload);
    const manifest = JSON.parse(await readFile(join(www, 'stable', 'manifest.json'), 'utf8')) as { payload: { chunks: number[] } };
    // Bytes inside frame 11 changed: zstd still decodes it, into other bytes than were signed.
    const bad = Buffer.from(good);
    const at = manifest.payload.chunks.slice(0, 11).reduce((a, b) => a + b, 0) + 20;
    for (let i = at; i < at + 40; i++) bad[i] = (bad[i] ?? 0) ^ 0xff;
    await writeFile(payload, bad);
    const stateFile = join(stateDir, 'update-state.json');
    for (let run = 1; run <= 2; run++) {
      const result = await slipwayUpdate();
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/\[ERR_PAYLOAD_(HASH_MISMATCH|CORRUPT)\]/);
      const record = JSON.parse(await readFile(stateFile, 'utf8')) as Record<string, unknown>;
      // Recorded, and each failed pass fetched the payload twice before charging it once.
      expect(record).toMatchObject({ status: 'idle', progress: null, failures: { '1.0.1': run }, skipped: [] });
    }
    await writeFile(payload, good);
    const fixed = await slipwayUpdate();
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ result: 'staged', version: '1.0.1', resumedFromChunk: 0 });
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    expect((await chooser().read()).next).toBe('USR-B');
  });

  it('refuses a replayed older manifest after a newer one was accepted', async () => {
    await publish('1.0.2');
    expect((await slipwayUpdate()).code).toBe(0);
    // The host rolled back to 1.0.0's slot; an attacker serves the old, still valid 1.0.1.
    await chooser().rollback('USR-B').catch(() => undefined);
    const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(stateDir, 'update-state.json'), JSON.stringify({ ...record, status: 'idle', target: null, progress: null }));
    await rm(www, { recursive: true, force: true });
    await mkdir(www);
    await publish('1.0.1');
    const result = await slipwayUpdate();
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('below 1.0.2 which this host already accepted');
  });

  it('keeps the highest version accepted through a pin to an older one: after unpin, a replay between them is refused', async () => {
    const stateFile = join(stateDir, 'update-state.json');
    // The state machine's own events for what the daemon does between these runs (pin, boot, unpin).
    const apply = async (...events: UpdateEvent[]): Promise<UpdateRecord> => {
      const record = events.reduce(advance, JSON.parse(await readFile(stateFile, 'utf8')) as UpdateRecord);
      await writeFile(stateFile, JSON.stringify(record));
      return record;
    };
    const republish = async (version: string): Promise<void> => {
      await rm(www, { recursive: true, force: true });
      await mkdir(www);
      await publish(version);
    };
    await republish('1.2.0');
    expect((await runSlipway(updateArgs('1.1.0'))).code).toBe(0);
    await apply({ type: 'booted', slot: 'USR-B', version: '1.2.0' }, { type: 'pin', version: '1.0.0' });
    // The pin is the way below the highest accepted: 1.0.0 installs, and 1.2.0 stays the highest.
    await republish('1.0.0');
    const pinned = await runSlipway(updateArgs('1.1.0'));
    expect(pinned.code).toBe(0);
    expect(JSON.parse(pinned.stdout)).toMatchObject({ result: 'staged', version: '1.0.0' });
    const afterPin = await apply({ type: 'booted', slot: 'USR-B', version: '1.0.0' }, { type: 'pin', version: null });
    expect(afterPin).toMatchObject({ status: 'idle', pinned: null, highestAccepted: '1.2.0' });
    // Unpinned and running 1.0.0, an attacker serves the old, still valid 1.1.0.
    await republish('1.1.0');
    const replay = await runSlipway(updateArgs('1.0.0'));
    expect(replay.stderr).toContain('[ERR_DOWNGRADE_REFUSED]');
    expect(replay.stderr).toContain('below 1.2.0 which this host already accepted');
    expect(replay.code).toBe(5);
    // Refused before any write: the slot still holds the pinned release, the maximum is unchanged.
    const after = JSON.parse(await readFile(stateFile, 'utf8')) as UpdateRecord;
    expect(after).toMatchObject({ status: 'idle', target: null, highestAccepted: '1.2.0', slotVersions: { 'USR-B': '1.0.0' }, lastError: { code: 'ERR_DOWNGRADE_REFUSED' } });
  });

  it('survives SIGKILL inside the download: the old slot boots until staging completes, and a re-run finishes', async () => {
    await publish('1.0.1');
    // Throttle the payload (64 KiB every 20 ms) so the download spans many state writes; each kill
    // waits for a state (not a time), so a slow machine moves the kills, not what they hit.
    server.handle((_req, _res, serve) => serve({ throttle: { bytes: 64 * 1024, everyMs: 20 } }));
    type Saved = { status?: string; progress?: { chunksDone?: number } | null };
    const saved = async (): Promise<Saved> => {
      const text = await readFile(join(stateDir, 'update-state.json'), 'utf8').catch(() => '{}');
      try {
        return JSON.parse(text) as Saved;
      } catch {
        return {}; // caught mid-write by a reader: read again
      }
    };
    const chunks = (record: Saved): number => record.progress?.chunksDone ?? 0;
    // Just after the download started, after one more frame, after two more.
    const killWhen: ((record: Saved, before: number) => boolean)[] = [
      (r) => r.status === 'downloading',
      (r, before) => r.status === 'downloading' && chunks(r) > before,
      (r, before) => r.status === 'downloading' && chunks(r) > before + 1,
    ];
    const seen = new Set<string>();
    for (const when of killWhen) {
      const before = chunks(await saved());
      const child = spawn(process.execPath, ['agent/main.ts', ...updateArgs()], { stdio: 'ignore' });
      let done = false;
      const exited = new Promise((resolve) => child.once('exit', () => resolve((done = true))));
      while (!done && !when(await saved(), before)) await new Promise((resolve) => setTimeout(resolve, 5));
      child.kill('SIGKILL');
      await exited;
      seen.add(String((await saved()).status));
      const state = await chooser().read();
      if (state.next !== 'USR-A') {
        // Only a run that completed may have made USR-B the next boot, and then it holds the image.
        expect(state.next).toBe('USR-B');
        expect(Buffer.compare(await slotB(), image)).toBe(0);
      }
    }
    expect(seen, 'some kill must land inside the download').toContain('downloading');
    const result = await slipwayUpdate();
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    expect((await chooser().read()).next).toBe('USR-B');
  });
});
