// Which failures are charged to a release, with faults injected into a real loopback HTTP server and
// the real update path (got, openpgp, zstd, a sgdisk-made disk): an outage (refused, reset, DNS, 503,
// 429, timeouts) never counts and the release installs once the server is back; a bad signature
// counts and skips the release after 3; corrupt frames are fetched once more before they are blamed;
// a slot that reads back other bytes, or a bad image made to read back good, is refused.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
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
import { FileRecordStore } from '../../agent/update-io/state-file.ts';
import { faultKind } from '../../agent/update/release-fault.ts';
import { runUpdateOnce } from '../../agent/update/run-update-once.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import type { AddressInfo } from 'node:net';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { BlockDevice } from '../../agent/slots/block-device.ts';
import type { UpdateOnceDeps, UpdateOutcome } from '../../agent/update/run-update-once.ts';
import type { UpdateRecord } from '../../agent/update/update-state.ts';
import type { HttpSettings } from '../../agent/update-io/http-update-source.ts';

const skip = missingTools(SGDISK);
const CHUNK = 64 * 1024;
let dir: TempDir;
let server: ReleaseServer;
let key: SigningKeyPair;
let keyring: string;
let image: Buffer;
let www: string;
let disk: string;
let stateDir: string;
let closedPort: number;
let counter = 0;
let logs: string[] = [];

const releaseDir = (): string => join(www, 'stable', 'releases', '1.0.1');

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  image = Buffer.concat(Array.from({ length: 8 }, (_, i) => (i % 2 ? randomBytes(CHUNK) : Buffer.alloc(CHUNK, i))));
  await writeFile(join(dir.path, 'slot.img'), image);
  www = join(dir.path, 'www');
  server = await startReleaseServer(www);
  // A port nothing listens on: connections to it are refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
});
afterAll(async () => {
  if (skip !== null) return;
  await server.close();
  await dir.remove();
});
beforeEach(async () => {
  if (skip !== null) return;
  server.handle(null);
  server.requests.length = 0;
  logs = [];
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
    now: new Date(),
    expiresInSeconds: 86_400,
    chunkSize: CHUNK,
  });
  disk = join(dir.path, `disk-${counter}.img`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
});

const chooser = (): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));

interface PassOptions {
  /** Milliseconds on the pass's clock; the real time when not given. */
  readonly clock?: { at: number };
  readonly http?: Partial<HttpSettings>;
  readonly maxResumes?: number;
  /** Any other of the pass's ports, replaced. */
  readonly deps?: Partial<UpdateOnceDeps>;
}

/** The update path as the agent wires it, with short timeouts and no waits between retries. */
async function updateOnce(servers: readonly string[] = [server.url], options: PassOptions = {}): Promise<UpdateOutcome> {
  const { clock: at } = options;
  const clock = { now: () => (at === undefined ? new Date() : new Date(at.at)), sleep: () => Promise.resolve() };
  const deps: UpdateOnceDeps = {
    serverUrls: servers,
    host: { channel: 'stable', arch: 'x86_64', board: 'qemu', bootedVersion: '1.0.0' },
    bootedSlot: 'USR-A',
    verifier: new OpenpgpReleaseVerifier(await loadKeyring(keyring)),
    source: new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, retries: 1, connectTimeoutMs: 1_000, idleTimeoutMs: 500, smallRequestDeadlineMs: 500, ...options.http }, clock, () => 0),
    payload: zstdPayloadWriter,
    chooser: chooser(),
    openSlot: async (slot) => openSlot(await FileBlockDevice.open(disk, { writable: true }), slot),
    records: new FileRecordStore(stateDir),
    clock,
    tries: 1,
    maxClockSkewMs: 86_400_000,
    machineId: '5f0c1e7a9b2d4c3e8f1000000000002a',
    caps: { manifest: DEFAULT_HTTP_SETTINGS.manifestCapBytes, signature: DEFAULT_HTTP_SETTINGS.signatureCapBytes },
    maxResumes: options.maxResumes ?? 0,
    log: (_fields, message) => logs.push(message),
    ...options.deps,
  };
  return runUpdateOnce(deps);
}

async function failedCode(servers?: readonly string[], options?: PassOptions): Promise<string> {
  const error = await updateOnce(servers, options).then(
    () => null,
    (e: unknown) => e as { code?: string },
  );
  expect(error, 'the pass must fail').not.toBeNull();
  return String(error?.code);
}

async function record(): Promise<UpdateRecord> {
  return JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as UpdateRecord;
}

const SLOT_B_START = (1 + 4 + 1 + 8) * 1024 * 1024;

async function slotB(): Promise<Buffer> {
  const bytes = await readFile(disk);
  return bytes.subarray(SLOT_B_START, SLOT_B_START + image.length);
}

/** Changes one byte of the disk file in slot B, in place, as another writer of the device would. */
function flipOnDisk(offsetInSlot: number): void {
  const fd = openSync(disk, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, SLOT_B_START + offsetInSlot);
    writeSync(fd, Buffer.of((byte[0] ?? 0) ^ 0xff), 0, 1, SLOT_B_START + offsetInSlot);
  } finally {
    closeSync(fd);
  }
}

/** The payload with the fourth frame's zstd magic overwritten: zstd refuses it there. */
async function corruptPayload(): Promise<Buffer> {
  const bytes = await readFile(join(releaseDir(), PAYLOAD_FILE));
  const manifest = JSON.parse(await readFile(join(www, 'stable', 'manifest.json'), 'utf8')) as { payload: { chunks: number[] } };
  const at = manifest.payload.chunks.slice(0, 3).reduce((a, b) => a + b, 0);
  bytes.fill(0xee, at, at + 8);
  return bytes;
}

const payloadRequests = (): { path: string; range: string | undefined }[] => server.requests.filter((r) => r.path.endsWith(PAYLOAD_FILE));

describe.skipIf(skip !== null)(`${skip ?? ''} failures charged to a release`, () => {
  it('charges no outage to any release, not even to the target of an interrupted download, and installs once the server is back', async () => {
    // An earlier download cut mid-payload: its target stays in the record, to be resumed.
    server.handle((req, _res, serve) => serve(req.url?.endsWith(PAYLOAD_FILE) ? { resetAfter: 3 * CHUNK } : {}));
    expect(faultKind(await failedCode())).toBe('transport');
    expect(await record()).toMatchObject({ target: { version: '1.0.1' }, failures: {} });

    const outage: [string, () => readonly string[]][] = [
      ['refused', () => {
        server.handle(null);
        return [`http://127.0.0.1:${closedPort}`];
      }],
      ['reset', () => {
        server.handle((req) => {
          req.socket.destroy();
        });
        return [server.url];
      }],
      ['HTTP 503', () => {
        server.handle((_req, res) => void res.writeHead(503).end('busy'));
        return [server.url];
      }],
      ['HTTP 429', () => {
        server.handle((_req, res) => void res.writeHead(429).end('slow down'));
        return [server.url];
      }],
      ['timeout', () => {
        // Accepts and never answers.
        server.handle(() => undefined);
        return [server.url];
      }],
      ['DNS', () => {
        server.handle(null);
        return ['http://slipway-mirror.invalid'];
      }],
    ];
    for (const [name, fault] of outage) {
      const code = await failedCode(fault());
      expect(faultKind(code), `${name} gave ${code}`).toBe('transport');
    }
    const afterOutage = await record();
    expect(afterOutage).toMatchObject({ status: 'idle', failures: {}, skipped: [], target: { version: '1.0.1' } });
    expect(['ERR_HTTP', 'ERR_HTTP_TIMEOUT']).toContain(afterOutage.lastError?.code);

    server.handle(null);
    expect(await updateOnce()).toMatchObject({ result: 'staged', version: '1.0.1', slot: 'USR-B' });
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    expect((await chooser().read()).next).toBe('USR-B');
  });

  it('fails a payload that drips below the minimum rate as a transport fault: not resumed, nothing charged, nothing staged', async () => {
    // The payload one byte at a time, the pass's clock moving a second with each: 1 B/s against a floor of 1 KiB/s over 2 s.
    const clock = { at: Date.now() };
    server.handle((req, res, serve) => {
      if (!req.url?.endsWith(PAYLOAD_FILE)) return serve();
      res.writeHead(200, { 'content-length': 1_000_000 });
      const next = (): void => {
        if (res.destroyed) return;
        clock.at += 1_000;
        res.write('x', () => setImmediate(next));
      };
      next();
    });
    const code = await failedCode(undefined, { clock, http: { minRateBytesPerSecond: 1024, rateWindowMs: 2_000 }, maxResumes: 3 });
    expect(code).toBe('ERR_TRANSFER_TOO_SLOW');
    expect(faultKind(code)).toBe('transport');
    // One connection: a drip is not resumed (the next connection would drip the same).
    expect(payloadRequests()).toHaveLength(1);
    expect(await record()).toMatchObject({
      status: 'idle',
      failures: {},
      skipped: [],
      target: { version: '1.0.1' },
      lastError: { code: 'ERR_TRANSFER_TOO_SLOW', message: expect.stringContaining('below the minimum of 1 KiB/s') as unknown },
    });
    const state = await chooser().read();
    expect(state.next).toBe('USR-A');
    expect(state.slots[1]).toMatchObject({ priority: 0, successful: false });
  });

  it('charges a bad signature under a trusted key, and skips the release after the third', async () => {
    const manifestPath = join(www, 'stable', 'manifest.json');
    const signed = await readFile(manifestPath);
    // Still the same JSON, no longer the bytes that were signed.
    await writeFile(manifestPath, Buffer.concat([signed, Buffer.from('\n')]));
    for (let i = 1; i <= 3; i++) {
      expect(await failedCode()).toBe('ERR_SIGNATURE_INVALID');
      const now = await record();
      expect(now.failures).toEqual({ '1.0.1': i });
      expect(now.skipped).toEqual(i < 3 ? [] : [{ version: '1.0.1', reason: 'failed 3 times, last with ERR_SIGNATURE_INVALID' }]);
    }
    // Even served right again, the skipped release is not installed.
    await writeFile(manifestPath, signed);
    expect(await updateOnce()).toMatchObject({ result: 'up-to-date', reason: 'skipping 1.0.1: failed 3 times, last with ERR_SIGNATURE_INVALID' });
    expect((await chooser().read()).next).toBe('USR-A');
  });

  it('fetches corrupt frames once more from the first frame, and installs when the second copy is good', async () => {
    const corrupt = await corruptPayload();
    let served = 0;
    server.handle((req, res, serve) => {
      if (!req.url?.endsWith(PAYLOAD_FILE) || served++ > 0) return serve();
      res.writeHead(200, { 'content-length': corrupt.length }).end(corrupt);
    });
    expect(await updateOnce()).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect(payloadRequests().map((r) => r.range)).toEqual([undefined, undefined]);
    expect(logs).toContain('payload content is bad; fetching it once more from the first frame before blaming the release');
    expect(await record()).toMatchObject({ status: 'updated-need-reboot', failures: {} });
    expect(Buffer.compare(await slotB(), image)).toBe(0);
  });

  it('takes the second copy from the next mirror', async () => {
    const bad = join(www, 'bad');
    await cp(join(www, 'stable'), join(bad, 'stable'), { recursive: true });
    await writeFile(join(bad, 'stable', 'releases', '1.0.1', PAYLOAD_FILE), await corruptPayload());
    expect(await updateOnce([`${server.url}/bad`, server.url])).toMatchObject({ result: 'staged', version: '1.0.1' });
    expect(payloadRequests().map((r) => r.path)).toEqual([`/bad/stable/releases/1.0.1/${PAYLOAD_FILE}`, `/stable/releases/1.0.1/${PAYLOAD_FILE}`]);
    expect(Buffer.compare(await slotB(), image)).toBe(0);
  });

  it('charges corrupt frames that came twice, and starts the next pass from the first frame', async () => {
    await writeFile(join(releaseDir(), PAYLOAD_FILE), await corruptPayload());
    expect(await failedCode()).toBe('ERR_PAYLOAD_CORRUPT');
    expect(payloadRequests()).toHaveLength(2);
    expect(await record()).toMatchObject({ status: 'idle', failures: { '1.0.1': 1 }, skipped: [], progress: null, lastError: { code: 'ERR_PAYLOAD_CORRUPT' } });
    expect((await chooser().read()).next).toBe('USR-A');
  });

  it('refuses a slot that reads back other bytes than were written (ERR_SLOT_VERIFY_FAILED): nothing staged, nothing armed', async () => {
    const before = await chooser().read();
    // Between the write and the read-back, a byte of the real disk file changes.
    const code = await failedCode(undefined, { deps: { onRecord: (r) => r.status === 'verifying' && flipOnDisk(CHUNK + 17) } });
    expect(code).toBe('ERR_SLOT_VERIFY_FAILED');
    const after = await chooser().read();
    expect(after.next).toBe(before.next);
    expect(after.next).toBe('USR-A');
    expect(after.slots[1]).toMatchObject({ priority: 0, successful: false });
    expect(await record()).toMatchObject({ status: 'idle', progress: null, lastError: { code: 'ERR_SLOT_VERIFY_FAILED' } });
  });

  it('hashes the bytes as they were handed to the slot, not what the slot holds later: a bad image made to read back good is refused', async () => {
    // The same release, one byte changed in a frame of random bytes (stored raw, so every frame keeps its length).
    const evil = Buffer.from(image);
    evil[CHUNK + 17] = (evil[CHUNK + 17] ?? 0) ^ 0xff;
    await writeFile(join(dir.path, 'evil.img'), evil);
    const evilWww = join(dir.path, `evil-${counter}`);
    await publishRelease({ image: join(dir.path, 'evil.img'), version: '1.0.1', channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: key.privateArmored, outDir: evilWww, now: new Date(), expiresInSeconds: 86_400, chunkSize: CHUNK });
    const chunksOf = async (root: string): Promise<number[]> => (JSON.parse(await readFile(join(root, 'stable', 'manifest.json'), 'utf8')) as { payload: { chunks: number[] } }).payload.chunks;
    expect(await chunksOf(evilWww)).toEqual(await chunksOf(www));
    // Served under the manifest signed for the good image.
    await writeFile(join(releaseDir(), PAYLOAD_FILE), await readFile(join(evilWww, 'stable', 'releases', '1.0.1', PAYLOAD_FILE)));
    // Whoever else writes the device puts the signed image's bytes back right after each write: a
    // hash read back from the slot would match the manifest.
    const openTampered = async (slot: 'USR-A' | 'USR-B'): Promise<BlockDevice> => {
      const inner = await openSlot(await FileBlockDevice.open(disk, { writable: true }), slot);
      return {
        path: inner.path,
        size: inner.size,
        sectorSize: inner.sectorSize,
        read: (offset, length) => inner.read(offset, length),
        readInto: (offset, target) => inner.readInto(offset, target),
        write: async (offset, data) => {
          await inner.write(offset, data);
          await inner.write(offset, image.subarray(offset, offset + data.length));
        },
        sync: () => inner.sync(),
        close: () => inner.close(),
      };
    };
    expect(await failedCode(undefined, { deps: { openSlot: openTampered } })).toBe('ERR_PAYLOAD_HASH_MISMATCH');
    // The slot holds exactly the signed image, and still nothing is staged.
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    expect((await chooser().read()).next).toBe('USR-A');
    expect(await record()).toMatchObject({ status: 'idle', lastError: { code: 'ERR_PAYLOAD_HASH_MISMATCH' } });
  });
});
