// Whether a verified manifest should be installed: channel and board, freshness against a clock
// that may have been reset, downgrades, operator pins, and versions this host gave up on. Pure.

import { compareVersions } from './version.ts';
import { UpdateError } from './update-errors.ts';
import { DEFAULT_MAX_CLOCK_SKEW_MS, refuseClockBehind, refuseFromFuture } from './signed-time.ts';
import type { ReleaseManifest } from '../../images/release-manifest.ts';

export interface HostFacts {
  readonly channel: string;
  readonly arch: string;
  readonly board: string;
  readonly bootedVersion: string;
}

export interface PolicyMemory {
  /** The highest version this host ever accepted; never go below it without a pin. */
  readonly highestAccepted: string | null;
  /** The latest time this host has seen (from verified manifests and its own clock). */
  readonly lastKnownTime: string | null;
  /** Versions not to install automatically: rolled back from, or failed too often. */
  readonly skipped: readonly { readonly version: string; readonly reason: string }[];
  readonly pinned: string | null;
}

export type Decision =
  | { readonly action: 'install'; readonly version: string; readonly reason: string }
  | { readonly action: 'none'; readonly version: string; readonly reason: string };

/** `maxClockSkewMs` (update.max_clock_skew): how far signed times and this host's clock may disagree, either way (signed-time.ts). */
export function decide(manifest: ReleaseManifest, host: HostFacts, memory: PolicyMemory, now: Date, maxClockSkewMs = DEFAULT_MAX_CLOCK_SKEW_MS): Decision {
  const { version } = manifest;
  if (manifest.channel !== host.channel) {
    throw new UpdateError('ERR_MANIFEST_WRONG_CHANNEL', `manifest is for channel "${manifest.channel}", this host follows "${host.channel}"`);
  }
  if (manifest.arch !== host.arch || manifest.board !== host.board) {
    throw new UpdateError('ERR_MANIFEST_WRONG_ARCH', `manifest is for ${manifest.arch}/${manifest.board}, this host is ${host.arch}/${host.board}`);
  }
  refuseClockBehind(memory.lastKnownTime, now, maxClockSkewMs);
  refuseFromFuture(version, manifest.created, now, maxClockSkewMs);
  if (now.getTime() > Date.parse(manifest.expires)) {
    throw new UpdateError('ERR_MANIFEST_EXPIRED', `manifest for ${version} expired at ${manifest.expires} (now ${now.toISOString()}): stale or replayed`);
  }
  const versusBooted = compareVersions(version, host.bootedVersion);
  if (memory.pinned !== null) {
    if (compareVersions(version, memory.pinned) !== 0) return { action: 'none', version, reason: `pinned to ${memory.pinned}` };
    if (versusBooted === 0) return { action: 'none', version, reason: `pinned version ${version} is running` };
    return { action: 'install', version, reason: `pinned to ${version} by an operator` };
  }
  if (versusBooted === 0) return { action: 'none', version, reason: `${version} is running` };
  if (versusBooted < 0) {
    throw new UpdateError('ERR_DOWNGRADE_REFUSED', `server offers ${version}, older than the running ${host.bootedVersion}; pin it to downgrade`);
  }
  if (memory.highestAccepted !== null && compareVersions(version, memory.highestAccepted) < 0) {
    throw new UpdateError('ERR_DOWNGRADE_REFUSED', `server offers ${version}, below ${memory.highestAccepted} which this host already accepted (replayed manifest?)`);
  }
  const skipped = memory.skipped.find((s) => compareVersions(s.version, version) === 0);
  if (skipped) return { action: 'none', version, reason: `skipping ${version}: ${skipped.reason}` };
  return { action: 'install', version, reason: `${version} is newer than the running ${host.bootedVersion}` };
}
