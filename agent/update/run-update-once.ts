// One pass of the update path: check the channel, verify the signed manifest, decide, and if there
// is something to install write it into the inactive slot and stage it. Crash order: the target slot
// is made unbootable before a byte is written, verified by re-reading, and only then staged. Every
// step is persisted so a killed run resumes where it stopped.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { createHash } from 'node:crypto';
import { isVersion, parseManifest, MANIFEST_FILE, SIGNATURE_FILE } from '../../images/release-manifest.ts';
import { resolvePayloadUrl } from '../../images/payload-url.ts';
import { otherSlot } from '../slots/boot-chooser.ts';
import { decide } from './update-policy.ts';
import { advance } from './update-state.ts';
import { UpdateError } from './update-errors.ts';
import { chargedToRelease, faultKind } from './release-fault.ts';
import { boundKnownTime, raiseKnownTime } from './signed-time.ts';
import { rebuildFloor } from './update-floor.ts';
import { describeWait, releaseWait } from './rollout-wave.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';
import type { BlockDevice } from '../slots/block-device.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { Clock } from '../../platform/clock.ts';
import type { PayloadWriter } from './payload-writer.ts';
import type { LoadedRecord, RecordStore } from './record-store.ts';
import type { ReleaseVerifier } from './release-verifier.ts';
import type { PayloadSource, UpdateSource } from './update-source.ts';
import type { HostFacts } from './update-policy.ts';
import type { UpdateEvent, UpdateRecord } from './update-state.ts';
import type { WaveWait } from './rollout-wave.ts';
import type { SlotHashStore } from '../slots/slot-hash-store.ts';
import { checkSlotVerity } from './slot-verity.ts';
import { chooseFetch } from './fetch-choice.ts';
import type { DeltaWriter, FetchPlan } from './delta-writer.ts';

export interface UpdateOnceDeps {
  /** Mirrors in order of preference; the next is tried when one fails to give a verified manifest. */
  readonly serverUrls: readonly string[];
  readonly host: HostFacts;
  readonly bootedSlot: SlotName;
  readonly verifier: ReleaseVerifier;
  readonly source: UpdateSource;
  readonly payload: PayloadWriter;
  /** Delta updates from the chunks this host has (update-io/delta-apply.ts); absent: always the full download. */
  readonly delta?: DeltaWriter;
  readonly chooser: BootChooser;
  /**
   * Where each slot's dm-verity root hash is recorded for the boot path: cleared before the slot is
   * written, recorded from the verified manifest before it is staged. Absent: nothing recorded.
   */
  readonly hashes?: SlotHashStore;
  readonly openSlot: (slot: SlotName) => Promise<BlockDevice>;
  readonly records: RecordStore;
  readonly clock: Clock;
  readonly tries: number;
  /** update.max_clock_skew: how far a signed time may be ahead of this host's clock (and the clock behind the newest one seen). */
  readonly maxClockSkewMs: number;
  /** /etc/machine-id: this host's place in a release's rollout (rollout-wave.ts). */
  readonly machineId: string;
  /** An operator's `slipway update --now`: a release whose rollout has not reached this host yet is taken. */
  readonly ignoreWave?: boolean;
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
  /**
   * The fleet's circuit breaker, asked before a release is downloaded: null lets it go, a reason
   * halts it (nothing is fetched, nothing charged). Throws when it cannot tell: nothing is fetched.
   */
  readonly admit?: (version: string) => Promise<string | null>;
}

export type UpdateOutcome =
  | { readonly result: 'up-to-date'; readonly version: string; readonly reason: string }
  /** The release is there, but its rollout reaches this host only at `until` (version, until, position, wave). */
  | ({ readonly result: 'waiting'; readonly reason: string } & WaveWait)
  | {
      readonly result: 'staged';
      readonly version: string;
      readonly slot: SlotName;
      readonly resumedFromChunk: number;
      /** How this pass wrote the slot: the path, payload bytes downloaded and requests; absent when it was staged before. */
      readonly fetched?: Omit<FetchPlan, 'reason'> & { readonly imageBytes: number };
    };

/** After these the bytes in the slot are worthless: the next attempt starts from the first frame. */
function spoilsSlot(code: string): boolean {
  return faultKind(code) === 'suspect-content' || code === 'ERR_PAYLOAD_TOO_LARGE' || code === 'ERR_SLOT_VERIFY_FAILED';
}

/** What the pass was fetching when it failed: the failure is charged to this release, never to an earlier target. */
interface Attempt {
  version: string | null;
  /** Full downloads of the payload in this pass: corrupt content is blamed only after the second. */
  contentTries: number;
}

export async function runUpdateOnce(deps: UpdateOnceDeps): Promise<UpdateOutcome> {
  const loaded = await deps.records.load();
  if (loaded.warning) deps.log({}, loaded.warning);
  let record = trustedRecord(loaded, deps);
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
  const attempt: Attempt = { version: null, contentTries: 0 };
  try {
    const { mirror, manifestUrl, manifestBytes, signer } = await fetchVerifiedManifest(deps, attempt);
    // A mirror's bad signature before this one verified is not this pass's failure.
    attempt.version = null;
    const manifest = parseManifest(manifestBytes, manifestUrl);
    // Refused before any decision: a payload that would come from another origin or from outside the channel's releases/.
    resolvePayloadUrl(manifest.payload.url, manifestUrl);
    const decision = decide(manifest, deps.host, record, deps.clock.now(), deps.maxClockSkewMs);
    // Only signed times move lastKnownTime (a clock set far ahead must not poison it), and only one
    // decide() found within the skew of the clock (a far-future `created` must not either).
    record = raiseKnownTime(record, manifest.created, deps.clock.now());
    deps.log({ version: manifest.version, signer: signer.fingerprint, decision: decision.action }, decision.reason);
    if (decision.action === 'none') {
      await step({ type: 'no-update', reason: decision.reason, at: now() });
      return { result: 'up-to-date', version: deps.host.bootedVersion, reason: decision.reason };
    }
    // Not taken for install yet: nothing downloaded, and the floor stays where it is.
    const wait = waveOf(manifest, record, deps);
    if (wait !== null) {
      const reason = describeWait(wait);
      deps.log({ version: wait.version, until: wait.until, position: wait.position, wave: wait.wave }, reason);
      await step({ type: 'no-update', reason, at: now() });
      return { result: 'waiting', reason, ...wait };
    }
    // The circuit breaker, asked only when this host would take the release now.
    const halted = (await deps.admit?.(manifest.version)) ?? null;
    if (halted !== null) {
      deps.log({ version: manifest.version }, halted);
      await step({ type: 'no-update', reason: halted, at: now() });
      return { result: 'up-to-date', version: deps.host.bootedVersion, reason: halted };
    }

    const slot = otherSlot(deps.bootedSlot);
    const manifestSha256 = createHash('sha256').update(manifestBytes).digest('hex');
    attempt.version = manifest.version;
    await step({ type: 'update-found', target: { version: manifest.version, slot, manifestSha256 } });
    const resumeFrom = record.progress?.chunksDone ?? 0;
    await deps.chooser.markUnbootable(slot);
    // Before the first byte: a half-written slot never carries the hash of what it held before.
    await deps.hashes?.write(slot, null);
    const booted = { slot: deps.bootedSlot, version: deps.host.bootedVersion };
    const choice = await chooseFetch({ manifest, manifestUrl, source: deps.source, delta: deps.delta, booted, target: slot, chunksDone: resumeFrom });
    let delta = choice.delta;
    deps.log({ version: manifest.version, path: choice.fetch.path, fetchBytes: choice.fetch.bytes, requests: choice.fetch.requests, imageBytes: manifest.payload.imageSize }, `${choice.fetch.path} update: ${choice.fetch.reason}`);
    // A delta's progress counts the payload bytes it downloads, of those it will; the full download's, image bytes.
    await step({ type: 'download-started', totalBytes: delta === null ? manifest.payload.imageSize : choice.fetch.bytes, chunksDone: resumeFrom, bytesDone: 0 });
    const fetched = { path: choice.fetch.path, bytes: 0, requests: 0 };

    const device = await deps.openSlot(slot);
    try {
      for (let from = resumeFrom, server = mirror; ; server = (server + 1) % deps.serverUrls.length) {
        attempt.contentTries++;
        try {
          const options = {
            payload: manifest.payload,
            // Each mirror's copy, resolved against that mirror's channel.
            source: countingSource(deps.source.payloadSource(resolvePayloadUrl(manifest.payload.url, manifestUrlOn(deps.serverUrls[server] ?? '', deps.host.channel))), fetched),
            slot: device,
            chunksDone: from,
            maxResumes: deps.maxResumes,
            onProgress: (chunksDone: number, bytesDone: number) => step({ type: 'progress', chunksDone, bytesDone }),
            onResume: ({ chunk, offset, cause }: { chunk: number; offset: number; cause: unknown }) => deps.log({ chunk, offset, code: errorCode(cause), cause: causeChain(cause) }, 'payload connection broke; resuming with a Range request'),
          };
          const written = delta === null ? await deps.payload.write(options) : await delta.write(options);
          if (written !== manifest.payload.imageSha256) {
            throw new UpdateError('ERR_PAYLOAD_HASH_MISMATCH', `payload of ${manifest.version} hashes to ${written}, the signed manifest says ${manifest.payload.imageSha256}`);
          }
          break;
        } catch (error) {
          if (delta !== null && errorCode(error) === 'ERR_RANGE_UNSUPPORTED') {
            // Not the content's fault: the same mirror, the whole payload, from where the record stands.
            attempt.contentTries--;
            server = (server + deps.serverUrls.length - 1) % deps.serverUrls.length;
            delta = null;
            fetched.path = 'full';
            await step({ type: 'progress', chunksDone: from, bytesDone: 0, totalBytes: manifest.payload.imageSize });
            deps.log({ version: manifest.version, path: 'full', code: errorCode(error), cause: causeChain(error) }, 'falling back to the full download: the server does not support Range requests');
            continue;
          }
          // Content a mirror (or a resume over frames an earlier run left) may have spoiled is
          // fetched once more, from the first frame and the next mirror, before the release is blamed.
          if (faultKind(errorCode(error)) !== 'suspect-content' || attempt.contentTries >= 2) throw error;
          from = 0;
          await step({ type: 'progress', chunksDone: 0, bytesDone: 0 });
          const next = deps.serverUrls[(server + 1) % deps.serverUrls.length];
          deps.log({ version: manifest.version, code: errorCode(error), cause: causeChain(error), mirror: next }, 'payload content is bad; fetching it once more from the first frame before blaming the release');
        }
      }
      deps.log({ version: manifest.version, path: fetched.path, fetchedBytes: fetched.bytes, requests: fetched.requests, imageBytes: manifest.payload.imageSize }, `payload written: ${fetched.bytes} bytes fetched in ${fetched.requests} requests for a ${manifest.payload.imageSize}-byte image (${fetched.path})`);
      await step({ type: 'download-finished' });
      const reread = await deps.payload.hash(device, manifest.payload.imageSize);
      if (reread !== manifest.payload.imageSha256) {
        throw new UpdateError('ERR_SLOT_VERIFY_FAILED', `${slot} reads back as ${reread} after writing ${manifest.version}, expected ${manifest.payload.imageSha256}`);
      }
      if (manifest.verity) await checkSlotVerity(device, manifest.verity, `${slot} after writing ${manifest.version}`);
      await step({ type: 'verified' });
    } finally {
      await device.close();
    }
    if (choice.index !== null) await deps.delta?.remember(slot, manifest.version, manifest.payload, choice.index);
    // Only from the verified manifest, and while the slot is still unbootable.
    if (manifest.verity) await deps.hashes?.write(slot, { rootHash: manifest.verity.rootHash, hashOffset: manifest.verity.hashOffset });
    await step({ type: 'staged', at: now() });
    if (deps.arm !== 'at-reboot') {
      await deps.chooser.stage(slot, deps.tries);
      await step({ type: 'armed' });
    }
    return { result: 'staged', version: manifest.version, slot, resumedFromChunk: resumeFrom, fetched: { ...fetched, imageBytes: manifest.payload.imageSize } };
  } catch (error) {
    // Recorded whoever listens: `update --once` has no listener, and its rerun must start clean.
    const failed = await recordFailure(error, record, attempt, deps.records, now());
    deps.onRecord?.(failed);
    throw error;
  }
}

export type PlanDecision =
  | { readonly action: 'none'; readonly version: string; readonly reason: string; readonly slot: SlotName }
  /** `fetch`: what installing it would download (delta or full, bytes, requests, why). */
  | { readonly action: 'install'; readonly version: string; readonly reason: string; readonly slot: SlotName; readonly fetch?: FetchPlan }
  | ({ readonly action: 'wait'; readonly reason: string; readonly slot: SlotName } & WaveWait)
  | { readonly action: 'refused'; readonly version: string | null; readonly reason: string; readonly code: string };

/** What a check would decide now, without downloading or changing anything (`slipway plan`). */
export async function planUpdate(deps: Omit<UpdateOnceDeps, 'openSlot' | 'chooser' | 'maxResumes' | 'tries' | 'payload'>): Promise<PlanDecision> {
  const record = trustedRecord(await deps.records.load(), deps);
  try {
    const { manifestUrl, manifestBytes } = await fetchVerifiedManifest(deps);
    const manifest = parseManifest(manifestBytes, manifestUrl);
    resolvePayloadUrl(manifest.payload.url, manifestUrl);
    const decision = decide(manifest, deps.host, record, deps.clock.now(), deps.maxClockSkewMs);
    const wait = decision.action === 'install' ? waveOf(manifest, record, deps) : null;
    if (wait !== null) return { action: 'wait', reason: describeWait(wait), slot: otherSlot(deps.bootedSlot), ...wait };
    const halted = decision.action === 'install' ? ((await deps.admit?.(manifest.version)) ?? null) : null;
    if (halted !== null) return { action: 'none', version: manifest.version, reason: halted, slot: otherSlot(deps.bootedSlot) };
    if (decision.action !== 'install') return { ...decision, slot: otherSlot(deps.bootedSlot) };
    const target = otherSlot(deps.bootedSlot);
    // The record's progress counts only for the release it was recorded for.
    const chunksDone = record.target?.version === manifest.version ? (record.progress?.chunksDone ?? 0) : 0;
    const { fetch } = await chooseFetch({ manifest, manifestUrl, source: deps.source, delta: deps.delta, booted: { slot: deps.bootedSlot, version: deps.host.bootedVersion }, target, chunksDone });
    return { ...decision, slot: target, fetch };
  } catch (error) {
    return { action: 'refused', version: null, reason: error instanceof Error ? error.message : String(error), code: errorCode(error) };
  }
}

/** The source, counting the payload bytes taken from it and the requests opened. */
function countingSource(source: PayloadSource, count: { bytes: number; requests: number }): PayloadSource {
  return {
    open: async (offset, end) => {
      const opened = await source.open(offset, end);
      count.requests++;
      const { body } = opened;
      return {
        start: opened.start,
        body: {
          destroy: () => (body as { destroy?: () => void }).destroy?.(),
          async *[Symbol.asyncIterator]() {
            for await (const piece of body) {
              count.bytes += piece.length;
              yield piece;
            }
          },
        } as AsyncIterable<Uint8Array>,
      };
    },
  };
}

/** The rollout's wait for a release the policy takes; a pin is an operator's word for this host, like --now. */
function waveOf(manifest: ReleaseManifest, record: UpdateRecord, deps: Pick<UpdateOnceDeps, 'machineId' | 'ignoreWave' | 'clock'>): WaveWait | null {
  return releaseWait(manifest, deps.machineId, deps.clock.now(), deps.ignoreWave === true || record.pinned !== null);
}

function channelBase(server: string, channel: string): string {
  return `${server.replace(/\/+$/, '')}/${encodeURIComponent(channel)}/`;
}

function manifestUrlOn(server: string, channel: string): string {
  return new URL(MANIFEST_FILE, channelBase(server, channel)).toString();
}

/**
 * The first mirror (its index) that serves a manifest whose signature verifies; otherwise the first
 * error, and in `blame` the version that mirror's unverified manifest claims, to charge a bad signature to.
 */
async function fetchVerifiedManifest(
  deps: Pick<UpdateOnceDeps, 'serverUrls' | 'host' | 'source' | 'caps' | 'verifier' | 'clock' | 'log'>,
  blame: { version: string | null } = { version: null },
): Promise<{ mirror: number; manifestUrl: string; manifestBytes: Uint8Array; signer: { fingerprint: string } }> {
  let firstError: unknown = null;
  for (const [mirror, server] of deps.serverUrls.entries()) {
    const base = channelBase(server, deps.host.channel);
    const manifestUrl = manifestUrlOn(server, deps.host.channel);
    let manifestBytes: Uint8Array | null = null;
    try {
      manifestBytes = await deps.source.fetchSmall(manifestUrl, deps.caps.manifest);
      const signature = await deps.source.fetchSmall(new URL(SIGNATURE_FILE, base).toString(), deps.caps.signature);
      const signer = await deps.verifier.verify(manifestBytes, Buffer.from(signature).toString('utf8'), deps.clock.now());
      return { mirror, manifestUrl, manifestBytes, signer };
    } catch (error) {
      if (firstError === null && manifestBytes !== null) blame.version = claimedVersion(manifestBytes);
      firstError ??= error;
      deps.log({ mirror: server, code: errorCode(error), error: causeChain(error) }, 'mirror failed; trying the next');
    }
  }
  if (firstError instanceof Error) throw firstError;
  throw new UpdateError('ERR_HTTP', firstError === null ? 'no update server configured' : 'every mirror failed', { cause: firstError });
}

/** The version an unverified manifest names, only to charge its bad signature to; null if it names none. */
function claimedVersion(bytes: Uint8Array): string | null {
  try {
    const { version } = JSON.parse(Buffer.from(bytes).toString('utf8')) as { version?: unknown };
    return typeof version === 'string' && isVersion(version) ? version : null;
  } catch {
    return null;
  }
}

async function recordFailure(error: unknown, record: UpdateRecord, attempt: Attempt, records: RecordStore, at: string): Promise<UpdateRecord> {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  const charge = attempt.version !== null && chargedToRelease(code, attempt.contentTries) ? attempt.version : null;
  let next = advance(record, { type: 'failed', code, message, at, charge });
  if (spoilsSlot(code)) next = { ...next, progress: null };
  const reported = advance(next, { type: 'error-reported' });
  await records.save(reported);
  return reported;
}

/**
 * The stored record with its floor rebuilt from the running version if both copies were lost, and a
 * newest signed time that was never trustworthy clamped, each said so.
 */
function trustedRecord(loaded: LoadedRecord, deps: Pick<UpdateOnceDeps, 'maxClockSkewMs' | 'log' | 'host' | 'bootedSlot'>): UpdateRecord {
  const stored = loaded.floorLost ? rebuildFloor(loaded.record, { slot: deps.bootedSlot, version: deps.host.bootedVersion }) : loaded.record;
  const { record, clamped } = boundKnownTime(stored, deps.maxClockSkewMs);
  if (clamped !== null) {
    deps.log(
      { lastKnownTime: clamped.from, recordedAt: clamped.recordedAt, clampedTo: clamped.to },
      `the newest signed time in the state file, ${clamped.from}, was more than update.max_clock_skew ahead of this host's clock when it was recorded (${clamped.recordedAt}): a publishing mistake or an attack; clamped to ${clamped.to}`,
    );
  }
  return record;
}
