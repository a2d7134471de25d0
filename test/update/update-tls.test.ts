// `slipway update --once` over HTTPS from a real loopback TLS server whose certificate a throwaway CA
// signed. No setting names a CA for the update server: the agent trusts it only through Node's
// NODE_EXTRA_CA_CERTS in its environment. Redirects from that server to a real plain-http server (or
// to file://) serving the same valid release are refused, and nothing reaches the plain server.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey } from '../../images/release-key.ts';
import { PAYLOAD_FILE, publishRelease } from '../../images/publish-release.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { makeCoreosImage, tempDir } from '../builders/coreos-disk.ts';
import { makeTestCertificates } from '../builders/test-certificates.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKeyPair } from '../../images/release-key.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { TestCertificates } from '../builders/test-certificates.ts';
import type { SlipwayRun } from '../builders/run-slipway.ts';

const skip = missingTools({ ...SGDISK, openssl: 'openssl' });
let dir: TempDir;
let key: SigningKeyPair;
let keyring: string;
let certs: TestCertificates;
let image: Buffer;
let www: string;
let tls: ReleaseServer;
let plain: ReleaseServer;
let disk: string;
let stateDir: string;
let counter = 0;

beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
  keyring = join(dir.path, 'keyring.asc');
  await writeFile(keyring, key.publicArmored);
  await mkdir(join(dir.path, 'certs'));
  certs = await makeTestCertificates(join(dir.path, 'certs'));
  image = Buffer.concat(Array.from({ length: 8 }, (_, i) => (i % 2 ? randomBytes(64 * 1024) : Buffer.alloc(64 * 1024, i))));
  await writeFile(join(dir.path, 'slot.img'), image);
  www = join(dir.path, 'www');
  // Both serve the same valid, signed release: only where the agent fetches from can be judged.
  tls = await startReleaseServer(www, { tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile } });
  plain = await startReleaseServer(www);
});
afterAll(async () => {
  if (skip !== null) return;
  await tls.close();
  await plain.close();
  await dir.remove();
});
beforeEach(async () => {
  if (skip !== null) return;
  for (const server of [tls, plain]) {
    server.handle(null);
    server.requests.length = 0;
  }
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
    chunkSize: 64 * 1024,
  });
  disk = join(dir.path, `disk-${counter}.img`);
  stateDir = join(dir.path, `state-${counter++}`);
  await makeCoreosImage(disk);
});

/** `update --once` against the TLS server; `trustCa`: with the test CA in NODE_EXTRA_CA_CERTS. */
function update(trustCa = true): Promise<SlipwayRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (trustCa) env.NODE_EXTRA_CA_CERTS = certs.caFile;
  return runSlipway(
    ['--booted', 'USR-A', 'update', '--once', '--server', tls.url, '--channel', 'stable', '--keyring', keyring, '--disk', disk, '--state-dir', stateDir,
      '--current-version', '1.0.0', '--arch', 'x86_64', '--board', 'qemu', '--json'],
    { env },
  );
}

const chooser = (): GptBootChooser => new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));

async function slotB(): Promise<Buffer> {
  const bytes = await readFile(disk);
  const start = (1 + 4 + 1 + 8) * 1024 * 1024;
  return bytes.subarray(start, start + image.length);
}

async function expectNothingStaged(): Promise<void> {
  const state = await chooser().read();
  expect(state.next).toBe('USR-A');
  expect(state.slots[1]).toMatchObject({ priority: 0, successful: false });
  const record = JSON.parse(await readFile(join(stateDir, 'update-state.json'), 'utf8')) as Record<string, unknown>;
  expect(record).toMatchObject({ status: 'idle', failures: {} });
}

describe.skipIf(skip !== null)(`${skip ?? ''} slipway update --once over TLS`, () => {
  it('stages a signed release fetched over HTTPS from a server whose CA it is told to trust', async () => {
    const result = await update();
    expect(result.stderr).not.toContain('"level":50');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ result: 'staged', version: '1.0.1', slot: 'USR-B', resumedFromChunk: 0, fetched: { path: 'delta', requests: 1 } });
    // The chunk index, the booted release's (not published here: the slot is cut instead), then the
    // chunks (the booted slot has none of them: one merged Range request).
    expect(tls.requests.map((r) => r.path)).toEqual([
      '/stable/manifest.json',
      '/stable/manifest.json.asc',
      `/stable/releases/1.0.1/${PAYLOAD_FILE}.chunks.idx`,
      `/stable/releases/1.0.0/${PAYLOAD_FILE}.chunks.idx`,
      `/stable/releases/1.0.1/${PAYLOAD_FILE}`,
    ]);
    expect(Buffer.compare(await slotB(), image)).toBe(0);
    expect((await chooser().read()).next).toBe('USR-B');
  });

  it('refuses the same server when its CA is not trusted: a transport error, nothing staged', async () => {
    const result = await update(false);
    expect(result.stderr).toContain('[ERR_HTTP]');
    expect(result.stderr).toMatch(/certificate/);
    expect(result.code).toBe(7);
    expect(tls.requests).toEqual([]);
    await expectNothingStaged();
  });

  it('refuses a manifest redirected from https to a plain-http server with the same release: no request reaches it', async () => {
    tls.handle((req, res) => void res.writeHead(302, { location: `${plain.url}${req.url ?? '/'}` }).end());
    const result = await update();
    expect(result.stderr).toContain('[ERR_HTTP_REDIRECT_REFUSED]');
    expect(result.stderr).toContain(`refusing redirect from ${tls.url}/stable/manifest.json to ${plain.url}/stable/manifest.json: https must not fall back to http`);
    expect(result.code).toBe(7);
    expect(plain.requests).toEqual([]);
    await expectNothingStaged();
  });

  it('refuses a payload redirected from https to a plain-http server with the same payload: no request reaches it', async () => {
    tls.handle((req, res, serve) => (req.url?.endsWith(PAYLOAD_FILE) ? void res.writeHead(302, { location: `${plain.url}${req.url}` }).end() : serve()));
    const result = await update();
    expect(result.stderr).toContain('[ERR_HTTP_REDIRECT_REFUSED]');
    expect(result.stderr).toContain('https must not fall back to http');
    expect(result.code).toBe(7);
    expect(plain.requests).toEqual([]);
    await expectNothingStaged();
  });

  it('refuses a payload redirected to file:// where the same payload lies', async () => {
    const onDisk = join(www, 'stable', 'releases', '1.0.1', PAYLOAD_FILE);
    tls.handle((req, res, serve) => (req.url?.endsWith(PAYLOAD_FILE) ? void res.writeHead(302, { location: `file://${onDisk}` }).end() : serve()));
    const result = await update();
    expect(result.stderr).toContain('[ERR_HTTP_REDIRECT_REFUSED]');
    expect(result.stderr).toContain('only http and https are allowed');
    expect(result.code).toBe(7);
    await expectNothingStaged();
  });
});
