// One slipway apply in its own process, so its peak RSS is its own: download, zstd, SHA-256, write
// into the slot file, then re-read and hash the slot. Prints one JSON line.

import { readFile } from 'node:fs/promises';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { applyPayload, hashSlot } from '../../agent/update-io/payload-apply.ts';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import type { PayloadDescription } from '../../images/release-manifest.ts';

const [payloadJson, url, slotPath] = process.argv.slice(2);
if (!payloadJson || !url || !slotPath) throw new Error('usage: apply-child PAYLOAD.json URL SLOT');
const payload = JSON.parse(await readFile(payloadJson, 'utf8')) as PayloadDescription;
const clock = { now: () => new Date(), sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) };
const source = new HttpUpdateSource(DEFAULT_HTTP_SETTINGS, clock, Math.random);
const slot = await FileBlockDevice.open(slotPath, { writable: true, sectorSize: 512 });
const started = process.hrtime.bigint();
const written = await applyPayload({ payload, source: source.payloadSource(url), slot, chunksDone: 0, maxResumes: 0, onProgress: () => Promise.resolve() });
const reread = await hashSlot(slot, payload.imageSize);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await slot.close();
if (written !== payload.imageSha256 || reread !== payload.imageSha256) throw new Error('hash mismatch in benchmark');
// VmHWM is this address space's peak; getrusage's maxrss would include the parent's peak from fork.
const status = await readFile('/proc/self/status', 'utf8');
const peakKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? Number.NaN);
console.log(JSON.stringify({ seconds, maxRssMiB: peakKiB / 1024 }));
