// A release that rolls out in waves, through the real update path (a loopback server, openpgp over a
// release signed by slipway's publisher, zstd, a sgdisk-made disk) on a test clock: a host whose
// moment has not come downloads nothing and says until when; it takes the release once its clock
// passes that moment; an operator's --now or pin takes it before; a clock off by minutes moves the
// moment by exactly that and never changes the wave.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey } from '../../images/release-key.ts';
import { PAYLOAD_FILE, publishRelease } from '../../images/publish-release.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { openSlot } from '../../agent/slots/open-slot.ts';
import { loadKeyring } from '../../agent/update-io/keyring.ts';
import { OpenpgpReleaseVerifier } from '../../agent/update-io/signature-verifier.ts';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { zstdPayloadWriter } from '../../agent/update-io/payload-apply.ts';
import { FileRecordStore, saveRecord } from '../../agent/update-io/state-file.ts';
import { eligibleFrom, rolloutPosition } from '../../agent/update/rollout-wave.ts';
import { planUpdate, runUpdateOnce } from '../../agent/update/run-update-once.ts';
import { INITIAL_RECORD } from '../../agent/update/update-state.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';
import type { UpdateOnceDeps } from '../../agent/update/run-update-once.ts';
import type { UpdateRecord } from '../../agent/update/update-state.ts';

const skip = missingTools(SGDISK);
const HOUR = 3_600_000;
// Whole seconds: the schedule's times are written to the millisecond.
const now = Math.floor(Date.now() / 1000) * 1000;
const iso = (ms: number): string => new Date(ms).toISOString();
/** Half the fleet went an hour ago; the rest goes in six hours. */
const WAVES: RolloutSchedule = { waves: [{ at: iso(now - HOUR), fraction: 0.5 }, { at: iso(now + 6 * HOUR), fraction: 1 }] };
/** A host in the second wave (its place for 1.0.1 is at least 0.5), found among numbered ids. */
const LATE_HOST = Array.from({ length: 64 }, (_, i) => `0f5e2d7c9a1b4e3f8d6c${String(i).padStart(12, '0')}`).find((id) => rolloutPosition(id, '1.0.1') >= 0.5) ?? '';
let dir: TempDir;
let server: ReleaseServer;
let key: SigningKeyPair;
let keyring: string;
let www: string;
let disk: string;
let stateDir: string;
let counter = 0;
let logs: string[] = [];

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(now - 86_400_000) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  await writeFile(join(dir.path, 'slot.img'), Buffer.concat([Buffer.alloc(64 * 1024, 7), randomBytes(64 * 1024)]));
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
  server.requests.length = 0;
  logs = [];
  disk = join(dir.path, `disk-${counter}.img`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
});

async function publish(rollout: RolloutSchedule): Promise<void> {
  await rm(www, { recursive: true, force: true });
  await mkdir(www);
  await publishRelease({
    image: join(dir.path, 'slot.img'),
    version: '1.0.1',
    channel: 'stable',
    arch: 'x86_64',
    board: 'qemu',
    privateKeyArmored: key.privateArmored,
    outDir: www,
    now: new Date(now),
    expiresInSeconds: 2 * 86_400,
    chunkSize: 64 * 1024,
    rollout,
  });
}

/** The update path as the agent wires it, on `clock`, for the host with `machineId`. */
async function deps(clock: TestClock, machineId = LATE_HOST, extra: Partial<UpdateOnceDeps> = {}): Promise<UpdateOnceDeps> {
  return {
    serverUrls: [server.url],
    host: { channel: 'stable', arch: 'x86_64', board: 'qemu', bootedVersion: '1.0.0' },
    bootedSlot: 'USR-A',
    verifier: new OpenpgpReleaseVerifier(await loadKeyring(keyring)),
    source: new HttpUpdateSource(DEFAULT_HTTP_SETTINGS, clock, () => 0),
    payload: zstdPayloadWriter,
    chooser: new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable })),
    openSlot: async (slot) => openSlot(await FileBlockDevice.open(disk, { writable: true }), slot),
    records: new FileRecordStore(stateDir),
    clock,
    tries: 1,
    maxClockSkewMs: 86_400_000,
    machineId,
    caps: { manifest: DEFAULT_HTTP_SETTINGS.manifestCapBytes, signature: DEFAULT_HTTP_SETTINGS.signatureCapBytes },
    maxResumes: 0,
    log: (_fields, message) => logs.push(message),
    ...extra,
  };
}

const payloadRequests = (): number => server.requests.filter((r) => r.path.endsWith(PAYLOAD_FILE)).length;
const record = async (): Promise<UpdateRecord> => JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as UpdateRecord;
const T = iso(now + 6 * HOUR);

describe.skipIf(skip !== null)(`${skip ?? ''} a release in waves`, () => {
  it('a host whose wave has not come downloads nothing, says until when, and takes it once its clock passes that', async () => {
    expect(LATE_HOST).not.toBe('');
    await publish(WAVES);
    const clock = new TestClock(now);
    const position = rolloutPosition(LATE_HOST, '1.0.1');
    const reason = `1.0.1 waits for its wave until ${T} (wave 2 of 2)`;
    expect(await runUpdateOnce(await deps(clock))).toEqual({ result: 'waiting', reason, version: '1.0.1', until: T, position, wave: 2, waves: 2 });
    expect(payloadRequests()).toBe(0);
    // Not taken for install: the floor stays, nothing is targeted, the check says why.
    expect(await record()).toMatchObject({ status: 'idle', target: null, highestAccepted: null, lastCheck: { at: iso(now), result: reason }, lastError: null });
    expect(logs).toContain(reason);
    expect(await planUpdate(await deps(clock))).toEqual({ action: 'wait', reason, slot: 'USR-B', version: '1.0.1', until: T, position, wave: 2, waves: 2 });

    clock.advance(6 * HOUR - 1);
    expect(await runUpdateOnce(await deps(clock))).toMatchObject({ result: 'waiting', until: T });
    expect(payloadRequests()).toBe(0);
    clock.advance(1);
    expect(await planUpdate(await deps(clock))).toMatchObject({ action: 'install', version: '1.0.1' });
    expect(await runUpdateOnce(await deps(clock))).toMatchObject({ result: 'staged', version: '1.0.1', slot: 'USR-B' });
    expect(payloadRequests()).toBeGreaterThan(0);
    expect(await record()).toMatchObject({ status: 'updated-need-reboot', highestAccepted: '1.0.1' });
  });

  it('a host of the first wave takes it at once', async () => {
    await publish(WAVES);
    const early = Array.from({ length: 64 }, (_, i) => `early-${i}`).find((id) => rolloutPosition(id, '1.0.1') < 0.5) ?? '';
    expect(await runUpdateOnce(await deps(new TestClock(now), early))).toMatchObject({ result: 'staged', version: '1.0.1' });
  });

  it('an operator takes it before its wave: update --now, or a pin to it', async () => {
    await publish(WAVES);
    expect(await runUpdateOnce(await deps(new TestClock(now), LATE_HOST, { ignoreWave: true }))).toMatchObject({ result: 'staged', version: '1.0.1' });
    stateDir = join(dir.path, `state-${counter++}`);
    await makeCoreosImage(disk);
    await saveRecord(stateDir, { ...INITIAL_RECORD, pinned: '1.0.1' });
    expect(await runUpdateOnce(await deps(new TestClock(now)))).toMatchObject({ result: 'staged', version: '1.0.1' });
  });

  it('refuses a rollout release on a host without a machine id, and does not charge the release', async () => {
    await publish(WAVES);
    await expect(runUpdateOnce(await deps(new TestClock(now), ''))).rejects.toMatchObject({ code: 'ERR_MACHINE_ID_MISSING' });
    expect(payloadRequests()).toBe(0);
    expect(await record()).toMatchObject({ failures: {}, lastError: { code: 'ERR_MACHINE_ID_MISSING' } });
  });

  it.each([
    ['waves', WAVES],
    ['an even spread over 12 hours', { start: iso(now), durationSeconds: 12 * 3600 }],
  ])('with %s, a host whose clock is off by up to five minutes acts that much early or late, in the same wave', async (_kind, schedule: RolloutSchedule) => {
    await publish(schedule);
    const moment = eligibleFrom(schedule, rolloutPosition(LATE_HOST, '1.0.1')).getTime();
    expect(moment).toBeGreaterThan(now);
    const waits = new Set<string>();
    for (const skewMs of [-5 * 60_000, -90_000, 0, 1_000, 5 * 60_000]) {
      // True time t, read by this host as t + skew.
      const at = (trueMs: number): TestClock => new TestClock(trueMs + skewMs);
      const before = await planUpdate(await deps(at(moment - skewMs - 1)));
      expect(before).toMatchObject({ action: 'wait', until: iso(moment) });
      waits.add(JSON.stringify({ ...before, reason: undefined }));
      expect(await planUpdate(await deps(at(moment - skewMs)))).toMatchObject({ action: 'install', version: '1.0.1' });
    }
    // Every skew: the same moment, place and wave.
    expect(waits.size).toBe(1);
  });
});
