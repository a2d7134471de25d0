// One pass of the update path: check the channel, verify the signed manifest, decide, and if there
// is something to install write it into the inactive slot and stage it. Crash order: the target slot
// is made unbootable before a byte is written, verified by re-reading, and only then staged. Every
// step is persisted so a killed run resumes where it stopped.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { createHash } from 'node:crypto';
import { parseManifest, MANIFEST_FILE, SIGNATURE_FILE } from '../../images/release-manifest.ts';
import { otherSlot } from '../slots/boot-chooser.ts';
import { decide } from './update-policy.ts';
import { advance } from './update-state.ts';
import { UpdateError } from './update-errors.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { Clock } from '../../platform/clock.ts';
import type { PayloadWriter } from './payload-writer.ts';
import type { RecordStore } from './record-store.ts';
import type { ReleaseVerifier } from './release-verifier.ts';
import type { UpdateSource } from './update-source.ts';
import type { HostFacts } from './update-policy.ts';
import type { UpdateEvent, UpdateRecord } from './update-state.ts';

export interface UpdateOnceDeps {
  /** Mirrors in order of preference; the next is tried when one fails to give a verified manifest. */
  readonly serverUrls: readonly string[];
  readonly host: HostFacts;
  readonly bootedSlot: SlotName;
  readonly verifier: ReleaseVerifier;
  readonly source: UpdateSource;
  readonly payload: PayloadWriter;
  readonly chooser: BootChooser;
  readonly openSlot: (slot: SlotName) => Promise<BlockDevice>;
  readonly records: RecordStore;
  readonly clock: Clock;
  readonly tries: number;
  /**
   * When the verified slot becomes the next boot. "when-staged" (the default; `update --once` and
   * strategy off, where a person reboots): at once. "at-reboot": the slot stays unbootable until the
   * reboot that uses it arms it under the fleet lock (zincati's locked finalization), so a power cut
   * or an unplanned reboot before then comes back on the old slot.
   */
  readonly arm?: 'when-staged' | 'at-reboot';
  readonly caps: { readonly manifest: number; readonly signature: number };
  readonly maxResumes: number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
  /** Told of every persisted record, for live status and progress. */
  readonly onRecord?: (record: UpdateRecord) => void;
}

export type UpdateOutcome =
  | { readonly result: 'up-to-date'; readonly version: string; readonly reason: string }
  | { readonly result: 'staged'; readonly version: string; readonly slot: SlotName; readonly resumedFromChunk: number };

/** Content errors mean the bytes in the slot are worthless: the next attempt starts from the first frame. */
const CONTENT_ERRORS = new Set(['ERR_PAYLOAD_HASH_MISMATCH', 'ERR_PAYLOAD_SIZE_MISMATCH', 'ERR_PAYLOAD_TOO_LARGE', 'ERR_SLOT_VERIFY_FAILED']);

export async function runUpdateOnce(deps: UpdateOnceDeps): Promise<UpdateOutcome> {
  const loaded = await deps.records.load();
  if (loaded.warning) deps.log({}, loaded.warning);
  let record = loaded.record;
  const step = async (event: UpdateEvent): Promise<void> => {
    record = advance(record, event);
    await deps.records.save(record);
    deps.onRecord?.(record);
  };
  const now = (): string => deps.clock.now().toISOString();

  if (record.status === 'updated-need-reboot' && record.target) {
    return { result: 'staged', version: record.target.version, slot: record.target.slot as SlotName, resumedFromChunk: record.progress?.chunksDone ?? 0 };
  }
  await step({ type: 'check-started' });
  try {
    const { base, manifestUrl, manifestBytes, signer } = await fetchVerifiedManifest(deps);
    const manifest = parseManifest(manifestBytes, manifestUrl);
    const decision = decide(manifest, deps.host, record, deps.clock.now());
    // Only signed times move lastKnownTime: a clock set far ahead must not poison it.
    record = { ...record, lastKnownTime: latest(record.lastKnownTime, manifest.created) };
    deps.log({ version: manifest.version, signer: signer.fingerprint, decision: decision.action }, decision.reason);
    if (decision.action === 'none') {
      await step({ type: 'no-update', reason: decision.reason, at: now() });
      return { result: 'up-to-date', version: deps.host.bootedVersion, reason: decision.reason };
    }

    const slot = otherSlot(deps.bootedSlot);
    const manifestSha256 = createHash('sha256').update(manifestBytes).digest('hex');
    await step({ type: 'update-found', target: { version: manifest.version, slot, manifestSha256 } });
    const resumeFrom = record.progress?.chunksDone ?? 0;
    await deps.chooser.markUnbootable(slot);
    await step({ type: 'download-started', totalBytes: manifest.payload.imageSize, chunksDone: resumeFrom, bytesDone: 0 });

    const device = await deps.openSlot(slot);
    try {
      const written = await deps.payload.write({
        payload: manifest.payload,
        source: deps.source.payloadSource(new URL(manifest.payload.url, base).toString()),
        slot: device,
        chunksDone: resumeFrom,
        maxResumes: deps.maxResumes,
        onProgress: (chunksDone, bytesDone) => step({ type: 'progress', chunksDone, bytesDone }),
        onResume: ({ chunk, offset, cause }) => deps.log({ chunk, offset, code: errorCode(cause), cause: causeChain(cause) }, 'payload connection broke; resuming with a Range request'),
      });
      if (written !== manifest.payload.imageSha256) {
        throw new UpdateError('ERR_PAYLOAD_HASH_MISMATCH', `payload of ${manifest.version} hashes to ${written}, the signed manifest says ${manifest.payload.imageSha256}`);
      }
      await step({ type: 'download-finished' });
      const reread = await deps.payload.hash(device, manifest.payload.imageSize);
      if (reread !== manifest.payload.imageSha256) {
        throw new UpdateError('ERR_SLOT_VERIFY_FAILED', `${slot} reads back as ${reread} after writing ${manifest.version}, expected ${manifest.payload.imageSha256}`);
      }
      await step({ type: 'verified' });
    } finally {
      await device.close();
    }
    await step({ type: 'staged', at: now() });
    if (deps.arm !== 'at-reboot') {
      await deps.chooser.stage(slot, deps.tries);
      await step({ type: 'armed' });
    }
    return { result: 'staged', version: manifest.version, slot, resumedFromChunk: resumeFrom };
  } catch (error) {
    deps.onRecord?.(await recordFailure(error, record, deps.records, now()));
    throw error;
  }
}

export type PlanDecision =
  | { readonly action: 'install' | 'none'; readonly version: string; readonly reason: string; readonly slot: SlotName }
  | { readonly action: 'refused'; readonly version: string | null; readonly reason: string; readonly code: string };

/** What a check would decide now, without downloading or changing anything (`slipway plan`). */
export async function planUpdate(deps: Omit<UpdateOnceDeps, 'openSlot' | 'chooser' | 'maxResumes' | 'tries' | 'payload'>): Promise<PlanDecision> {
  const { record } = await deps.records.load();
  try {
    const { manifestUrl, manifestBytes } = await fetchVerifiedManifest(deps);
    const manifest = parseManifest(manifestBytes, manifestUrl);
    const decision = decide(manifest, deps.host, record, deps.clock.now());
    return { ...decision, slot: otherSlot(deps.bootedSlot) };
  } catch (error) {
    return { action: 'refused', version: null, reason: error instanceof Error ? error.message : String(error), code: errorCode(error) };
  }
}

/** The first mirror that serves a manifest whose signature verifies; otherwise the first error. */
async function fetchVerifiedManifest(deps: Pick<UpdateOnceDeps, 'serverUrls' | 'host' | 'source' | 'caps' | 'verifier' | 'clock' | 'log'>): Promise<{ base: string; manifestUrl: string; manifestBytes: Uint8Array; signer: { fingerprint: string } }> {
  let firstError: unknown = null;
  for (const server of deps.serverUrls) {
    const base = `${server.replace(/\/+$/, '')}/${encodeURIComponent(deps.host.channel)}/`;
    const manifestUrl = new URL(MANIFEST_FILE, base).toString();
    try {
      const manifestBytes = await deps.source.fetchSmall(manifestUrl, deps.caps.manifest);
      const signature = await deps.source.fetchSmall(new URL(SIGNATURE_FILE, base).toString(), deps.caps.signature);
      const signer = await deps.verifier.verify(manifestBytes, Buffer.from(signature).toString('utf8'), deps.clock.now());
      return { base, manifestUrl, manifestBytes, signer };
    } catch (error) {
      firstError ??= error;
      deps.log({ mirror: server, code: errorCode(error), error: causeChain(error) }, 'mirror failed; trying the next');
    }
  }
  if (firstError instanceof Error) throw firstError;
  throw new UpdateError('ERR_HTTP', firstError === null ? 'no update server configured' : 'every mirror failed', { cause: firstError });
}

async function recordFailure(error: unknown, record: UpdateRecord, records: RecordStore, at: string): Promise<UpdateRecord> {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  let next = advance(record, { type: 'failed', code, message, at });
  if (CONTENT_ERRORS.has(code)) next = { ...next, progress: null };
  const reported = advance(next, { type: 'error-reported' });
  await records.save(reported);
  return reported;
}

function latest(...times: (string | null)[]): string {
  return times.filter((t): t is string => t !== null).reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b));
}
