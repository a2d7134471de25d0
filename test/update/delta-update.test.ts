// Delta updates end to end: `slipway update --once` as a real process against a real loopback
// server and a real disk image whose booted slot (USR-A) holds the previous release. Only the
// chunks the host lacks are fetched; each injected fault must change what happens: a damaged
// chunk in the booted slot is fetched instead, an index that lies is refused before anything is
// staged, a SIGKILL mid-delta is finished by a rerun that fetches only what is missing, and a
// server that ignores Range gets the full download.

import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signDetached } from '../../images/release-key.ts';
import { INDEX_SUFFIX, PAYLOAD_FILE, publishRelease } from '../../images/publish-release.ts';
import { INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES } from '../../images/chunk-index.ts';
import { parseManifest, serializeManifest } from '../../images/release-manifest.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { useUpdateRig } from '../builders/update-rig.ts';

const skip = missingTools(SGDISK);
const MIB = 1024 * 1024;
const SLOT_A = 6 * MIB;
const SLOT_B = 14 * MIB;
const rig = useUpdateRig(skip);
let base: Buffer;
let next: Buffer;
const now = new Date();

/** Random, so nothing is found by accident; the edits are what a delta has to fetch. */
beforeAll(() => {
  base = randomBytes(6 * MIB);
  // 4 KiB changed in place and 40 KiB inserted further on: a few chunks each.
  next = Buffer.concat([base.subarray(0, 2 * MIB), randomBytes(4096), base.subarray(2 * MIB + 4096, 4 * MIB), randomBytes(40 * 1024), base.subarray(4 * MIB)]);
});
beforeEach(async () => {
  if (skip !== null) return;
  await writeAt(rig().disk, SLOT_A, base);
});

async function writeAt(path: string, offset: number, bytes: Uint8Array): Promise<void> {
  const file = await open(path, 'r+');
  try {
    await file.write(bytes, 0, bytes.length, offset);
  } finally {
    await file.close();
  }
}

async function publish(image: Buffer, version = '1.0.1'): Promise<string> {
  const path = join(rig().dir, `image-${version}-${rig().host}.img`);
  await writeFile(path, image);
  await publishRelease({ image: path, version, channel: 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: rig().key.privateArmored, outDir: rig().www, now, expiresInSeconds: 86_400, chunkSize: MIB, verity: false });
  return join(rig().www, 'stable', 'releases', version);
}

function updateArgs(): string[] {
  return ['--booted', 'USR-A', 'update', '--once', '--server', rig().server.url, '--channel', 'stable', '--keyring', rig().keyring, '--disk', rig().disk, '--state-dir', rig().stateDir, '--current-version', '1.0.0', '--arch', 'x86_64', '--board', 'qemu', '--json'];
}

interface Outcome {
  result: string;
  fetched?: { path: string; bytes: number; requests: number; imageBytes: number };
}

async function update(): Promise<{ code: number; outcome: Outcome | null; log: string }> {
  const run = await runSlipway(updateArgs());
  let outcome: Outcome | null;
  try {
    outcome = JSON.parse(run.stdout) as Outcome;
  } catch {
    outcome = null; // a refused update prints no outcome
  }
  return { code: run.code, outcome, log: run.stderr };
}

async function slotB(length: number): Promise<Buffer> {
  return (await readFile(rig().disk)).subarray(SLOT_B, SLOT_B + length);
}

const chooser = (): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(rig().disk, { writable }));
const payloadRequests = (): { path: string; range: string | undefined }[] => rig().server.requests.filter((r) => r.path.endsWith(PAYLOAD_FILE));

describe.skipIf(skip !== null)(`${skip ?? ''} delta updates`, () => {
  it('fetches only the chunks the booted slot lacks, with a few merged Range requests', async () => {
    const release = await publish(next);
    const payloadSize = (await readFile(join(release, PAYLOAD_FILE))).length;
    rig().server.requests.length = 0;
    const sentBefore = rig().server.bytesSent;
    const { code, outcome, log } = await update();
    expect(code).toBe(0);
    expect(Buffer.compare(await slotB(next.length), next)).toBe(0);
    expect(outcome?.fetched).toMatchObject({ path: 'delta', imageBytes: next.length });
    // Two edits of a few chunks each: far less than the payload (random bytes do not compress).
    const fetched = outcome?.fetched?.bytes ?? Infinity;
    expect(fetched).toBeLessThan(payloadSize / 20);
    expect(payloadRequests().length).toBe(outcome?.fetched?.requests);
    expect(payloadRequests().every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ''))).toBe(true);
    // What the server sent: the index and the ranges, nothing more.
    const indexBytes = (await readFile(join(release, `${PAYLOAD_FILE}${INDEX_SUFFIX}`))).length;
    expect(rig().server.bytesSent - sentBefore).toBeLessThan(fetched + indexBytes + 64 * 1024);
    expect(log).toContain('"path":"delta"');
  });

  it("finds the booted slot's chunks by the booted release's published index, without cutting the slot", async () => {
    await publish(base, '1.0.0');
    const release = await publish(next);
    rig().server.requests.length = 0;
    const { code, outcome } = await update();
    expect(code).toBe(0);
    expect(rig().server.requests.map((r) => r.path)).toContain(`/stable/releases/1.0.0/${PAYLOAD_FILE}${INDEX_SUFFIX}`);
    expect(Buffer.compare(await slotB(next.length), next)).toBe(0);
    expect(outcome?.fetched?.bytes).toBeLessThan((await readFile(join(release, PAYLOAD_FILE))).length / 20);
  });

  it('fetches a chunk that is damaged in the booted slot instead of copying it, even when the cached map says it is there', async () => {
    await publish(next);
    // A first host updates cleanly and leaves the booted slot's chunk map in its state directory.
    expect((await update()).code).toBe(0);
    const cache = await readFile(join(rig().stateDir, 'chunks-USR-A.json'), 'utf8');
    // A second host, same booted slot but one byte flipped in an unchanged part, with that cache.
    await rig().newHost();
    await writeAt(rig().disk, SLOT_A, base);
    await mkdir(rig().stateDir, { recursive: true, mode: 0o700 });
    await writeFile(join(rig().stateDir, 'chunks-USR-A.json'), cache);
    // Half way into the first group: far from the edits, so its chunk would be copied, not fetched.
    await writeAt(rig().disk, SLOT_A + MIB / 2 + 1234, Buffer.from([base[MIB / 2 + 1234]! ^ 0xff]));
    const { code, outcome, log } = await update();
    expect(code).toBe(0);
    expect(log).toContain('a local chunk no longer matches its hash; fetching it');
    expect(Buffer.compare(await slotB(next.length), next)).toBe(0);
    expect(outcome?.fetched?.path).toBe('delta');
  });

  it('refuses a release whose signed index lies about a chunk: nothing staged, the old slot boots', async () => {
    const release = await publish(next);
    // Re-sign a manifest whose index gives one chunk (in a part the booted slot also has) a wrong hash.
    const indexPath = join(release, `${PAYLOAD_FILE}${INDEX_SUFFIX}`);
    const index = await readFile(indexPath);
    const at = INDEX_HEADER_BYTES + 3 * INDEX_ENTRY_BYTES + 24;
    index[at] = (index[at] ?? 0) ^ 0x01;
    await writeFile(indexPath, index);
    const manifestPath = join(rig().www, 'stable', 'manifest.json');
    const manifest = parseManifest(await readFile(manifestPath), 'test');
    const lying = serializeManifest({ ...manifest, payload: { ...manifest.payload, index: { ...manifest.payload.index!, sha256: createHash('sha256').update(index).digest('hex') } } });
    await writeFile(manifestPath, lying);
    await writeFile(`${manifestPath}.asc`, await signDetached(lying, rig().key.privateArmored, now));
    const { code, log } = await update();
    expect(code).not.toBe(0);
    expect(log).toContain('ERR_PAYLOAD_HASH_MISMATCH');
    expect(log).toMatch(/chunk 3 \(image bytes/);
    const state = await chooser().read();
    expect(state.next).toBe('USR-A');
    expect(state.slots[1]).toMatchObject({ priority: 0 });
    const record = JSON.parse(await readFile(join(rig().stateDir, 'update-state.json'), 'utf8')) as { status: string; lastError: { code: string } };
    expect(record.lastError.code).toBe('ERR_PAYLOAD_HASH_MISMATCH');
  });

  it('falls back to the full download, saying why, when the index does not verify against the manifest', async () => {
    const release = await publish(next);
    await writeFile(join(release, `${PAYLOAD_FILE}${INDEX_SUFFIX}`), randomBytes(200));
    const { code, outcome, log } = await update();
    expect(code).toBe(0);
    expect(outcome?.fetched?.path).toBe('full');
    expect(log).toContain('does not verify against the signed manifest');
    expect(Buffer.compare(await slotB(next.length), next)).toBe(0);
  });

  it('falls back to the full download, saying why, when the server ignores Range', async () => {
    await publish(next);
    rig().server.handle((_req, _res, serve) => serve({ ignoreRange: true }));
    const { code, outcome, log } = await update();
    expect(code).toBe(0);
    expect(outcome?.fetched?.path).toBe('full');
    expect(log).toContain('falling back to the full download: the server does not support Range requests');
    expect(Buffer.compare(await slotB(next.length), next)).toBe(0);
  });

  it('finishes after SIGKILL mid-delta, the rerun fetching only the chunks still missing', async () => {
    // Much new content, so the delta download spans several progress records.
    const changed = Buffer.concat([base.subarray(0, MIB), randomBytes(5 * MIB), base.subarray(MIB, 2 * MIB)]);
    await publish(changed);
    rig().server.handle((_req, _res, serve) => serve({ throttle: { bytes: 32 * 1024, everyMs: 10 } }));
    const saved = async (): Promise<{ status?: string; progress?: { chunksDone?: number; totalBytes?: number } | null }> => {
      try {
        return JSON.parse(await readFile(join(rig().stateDir, 'update-state.json'), 'utf8')) as { status?: string; progress?: { chunksDone?: number } | null };
      } catch {
        return {};
      }
    };
    const child = spawn(process.execPath, ['agent/main.ts', ...updateArgs()], { stdio: 'ignore' });
    let done = false;
    const exited = new Promise((resolve) => child.once('exit', () => resolve((done = true))));
    for (let r = await saved(); !done && !(r.status === 'downloading' && (r.progress?.chunksDone ?? 0) >= 3); r = await saved()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    child.kill('SIGKILL');
    await exited;
    const killed = await saved();
    expect(killed.status, 'the kill must land inside the download').toBe('downloading');
    const planned = killed.progress?.totalBytes ?? 0;
    expect(planned).toBeGreaterThan(4 * MIB);
    expect((await chooser().read()).next).toBe('USR-A');
    rig().server.handle(null);
    const { code, outcome } = await update();
    expect(code).toBe(0);
    expect(Buffer.compare(await slotB(changed.length), changed)).toBe(0);
    // What the killed run wrote (three of seven groups at least) is found in place, not fetched again.
    expect(outcome?.fetched?.path).toBe('delta');
    expect(outcome?.fetched?.bytes).toBeLessThan(planned - 2 * MIB);
  });
});

