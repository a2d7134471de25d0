// One slipway delta apply in its own process, so its peak RSS is its own: fetch and check the chunk
// index, find chunks in the booted image (by the booted release's published index when the server
// has one for BOOTED_VERSION, else by cutting it), fetch the rest with Range requests, write the
// slot, then re-read and hash it. Prints one JSON line.

import { readFile } from 'node:fs/promises';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { ChunkDeltaWriter } from '../../agent/update-io/delta-apply.ts';
import { hashSlot } from '../../agent/update-io/payload-apply.ts';
import { chooseFetch } from '../../agent/update/fetch-choice.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';

const [manifestJson, manifestUrl, bootedPath, slotPath, bootedVersion] = process.argv.slice(2);
if (!manifestJson || !manifestUrl || !bootedPath || !slotPath || !bootedVersion) throw new Error('usage: delta-child MANIFEST.json MANIFEST_URL BOOTED.img SLOT BOOTED_VERSION');
const manifest = JSON.parse(await readFile(manifestJson, 'utf8')) as ReleaseManifest;
const clock = { now: () => new Date(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
const source = new HttpUpdateSource(DEFAULT_HTTP_SETTINGS, clock, Math.random);
const paths = { 'USR-A': bootedPath, 'USR-B': slotPath };
const delta = new ChunkDeltaWriter({ openReadOnly: (slot) => FileBlockDevice.open(paths[slot], { writable: false, sectorSize: 512 }), cacheDir: null, log: () => undefined });
const started = process.hrtime.bigint();
const choice = await chooseFetch({ manifest, manifestUrl, source, delta, booted: { slot: 'USR-A', version: bootedVersion }, target: 'USR-B', chunksDone: 0 });
const prepared = process.hrtime.bigint();
if (choice.delta === null) throw new Error(`no delta: ${choice.fetch.reason}`);
const slot = await FileBlockDevice.open(slotPath, { writable: true, sectorSize: 512 });
const payloadUrl = new URL(manifest.payload.url, manifestUrl).toString();
const written = await choice.delta.write({ payload: manifest.payload, source: source.payloadSource(payloadUrl), slot, chunksDone: 0, maxResumes: 0, onProgress: () => Promise.resolve() });
const reread = await hashSlot(slot, manifest.payload.imageSize);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await slot.close();
if (written !== manifest.payload.imageSha256 || reread !== manifest.payload.imageSha256) throw new Error('hash mismatch in benchmark');
const status = await readFile('/proc/self/status', 'utf8');
const peakKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
console.log(JSON.stringify({ seconds, prepareSeconds: Number(prepared - started) / 1e9, maxRssMiB: peakKiB / 1024, fetchBytes: choice.fetch.bytes, requests: choice.fetch.requests, reason: choice.fetch.reason }));
