// The update state machine with update_engine's states, and the record the agent persists: the
// state, what is being installed and how far it got, and what the host must remember across
// restarts (highest version accepted, latest time seen, pins, versions to skip). Pure.

import { UpdateError } from './update-errors.ts';
import { compareVersions } from './version.ts';

export const UPDATE_STATUSES = [
  'idle',
  'checking',
  'update-available',
  'downloading',
  'verifying',
  'finalizing',
  'updated-need-reboot',
  'reporting-error',
] as const;
export type UpdateStatus = (typeof UPDATE_STATUSES)[number];

export interface UpdateTarget {
  readonly version: string;
  readonly slot: string;
  /** SHA-256 of the signed manifest bytes: a resume continues only the very same release. */
  readonly manifestSha256: string;
  /**
   * Set once the slot was made the next boot with its tries. Started on the other slot after that,
   * the agent knows the boot into it failed (or never happened); before it, the reboot is still owed.
   */
  readonly armed?: boolean;
}

export interface UpdateProgress {
  readonly chunksDone: number;
  readonly bytesDone: number;
  readonly totalBytes: number;
}

export interface UpdateRecord {
  readonly schema: 1;
  readonly status: UpdateStatus;
  readonly target: UpdateTarget | null;
  readonly progress: UpdateProgress | null;
  readonly highestAccepted: string | null;
  readonly lastKnownTime: string | null;
  /** This host's clock when lastKnownTime was raised: a stored time further ahead of it than the skew is clamped (signed-time.ts). */
  readonly lastKnownTimeAt: string | null;
  readonly pinned: string | null;
  readonly failures: Readonly<Record<string, number>>;
  readonly skipped: readonly { readonly version: string; readonly reason: string }[];
  readonly lastCheck: { readonly at: string; readonly result: string } | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
  /** The version written in each slot (USR-A, USR-B), as far as this host knows; absent while a slot is rewritten. */
  readonly slotVersions: Readonly<Record<string, string>>;
}

export const INITIAL_RECORD: UpdateRecord = {
  schema: 1,
  status: 'idle',
  target: null,
  progress: null,
  highestAccepted: null,
  lastKnownTime: null,
  lastKnownTimeAt: null,
  pinned: null,
  failures: {},
  skipped: [],
  lastCheck: null,
  lastError: null,
  slotVersions: {},
};

export type UpdateEvent =
  | { readonly type: 'check-started' }
  | { readonly type: 'no-update'; readonly reason: string; readonly at: string }
  | { readonly type: 'update-found'; readonly target: UpdateTarget }
  | { readonly type: 'download-started'; readonly totalBytes: number; readonly chunksDone: number; readonly bytesDone: number }
  /** `totalBytes` when what is counted changes (a delta falling back to the full download). */
  | { readonly type: 'progress'; readonly chunksDone: number; readonly bytesDone: number; readonly totalBytes?: number }
  | { readonly type: 'download-finished' }
  | { readonly type: 'verified' }
  | { readonly type: 'staged'; readonly at: string }
  /** The staged slot is now the next boot (at once with strategy off, else by the coordinated reboot). */
  | { readonly type: 'armed' }
  /** `charge`: the version the failure is the release's fault of (release-fault.ts), or null when it is not. */
  | { readonly type: 'failed'; readonly code: string; readonly message: string; readonly at: string; readonly charge: string | null }
  | { readonly type: 'error-reported' }
  /** The agent started on a booted slot: remembers its version, and a staged update that is now running is done. */
  | { readonly type: 'booted'; readonly slot: string; readonly version: string }
  /** The staged slot did not come up healthy (or at all): its version is skipped until a newer one appears. */
  | { readonly type: 'boot-failed'; readonly reason: string; readonly at: string }
  /** The staged release was halted fleet-wide before this host rebooted into it: unstaged, never charged or skipped. */
  | { readonly type: 'unstaged'; readonly reason: string; readonly at: string }
  /** An operator's pin (null: unpin); pinning another version than the staged one unstages it. */
  | { readonly type: 'pin'; readonly version: string | null }
  /** `charged`: the release's own fault (its health gate failed), counted as well; an operator's rollback is not. */
  | { readonly type: 'skip'; readonly version: string; readonly reason: string; readonly charged?: boolean }
  /** An operator gives a skipped version another chance: off the list, its failure count back to 0. */
  | { readonly type: 'unskip'; readonly version: string };

const ANY: readonly UpdateStatus[] = UPDATE_STATUSES;

/** Which states each event may leave from; anything else is a bug in the caller. */
const ALLOWED_FROM: Record<UpdateEvent['type'], readonly UpdateStatus[]> = {
  'check-started': ['idle', 'reporting-error', 'checking', 'update-available', 'downloading', 'verifying', 'finalizing'],
  'no-update': ['checking'],
  'update-found': ['checking'],
  'download-started': ['update-available'],
  progress: ['downloading'],
  'download-finished': ['downloading'],
  verified: ['verifying'],
  staged: ['finalizing'],
  armed: ['updated-need-reboot'],
  failed: ['checking', 'update-available', 'downloading', 'verifying', 'finalizing'],
  'error-reported': ['reporting-error'],
  booted: ANY,
  'boot-failed': ['updated-need-reboot'],
  unstaged: ['updated-need-reboot'],
  pin: ANY,
  skip: ANY,
  unskip: ANY,
};

/** How many failures of one version before it is skipped until a newer one appears. */
export const MAX_FAILURES_PER_VERSION = 3;

export function advance(record: UpdateRecord, event: UpdateEvent): UpdateRecord {
  if (!ALLOWED_FROM[event.type].includes(record.status)) {
    throw new UpdateError('ERR_ILLEGAL_TRANSITION', `update state machine: "${event.type}" is not allowed in state "${record.status}"`);
  }
  switch (event.type) {
    case 'check-started':
      // A check after a restart keeps target and progress, so a download of the same release resumes.
      return { ...record, status: 'checking' };
    case 'no-update':
      return { ...record, status: 'idle', target: null, progress: null, lastCheck: { at: event.at, result: event.reason }, lastError: null };
    case 'update-found': {
      const sameRelease = record.target?.manifestSha256 === event.target.manifestSha256 && record.target.slot === event.target.slot;
      // A verified manifest the policy takes is the floor from now on, before its download: a download
      // that fails (and a version later skipped for it) must not let a replay of an older one in. A
      // pin is an operator's choice, not the channel's word: it moves the floor only once staged.
      const highestAccepted = record.pinned === null ? atLeast(record.highestAccepted, event.target.version) : record.highestAccepted;
      return { ...record, status: 'update-available', target: event.target, progress: sameRelease ? record.progress : null, highestAccepted };
    }
    case 'download-started':
      return { ...record, status: 'downloading', slotVersions: without(record.slotVersions, record.target?.slot), progress: { chunksDone: event.chunksDone, bytesDone: event.bytesDone, totalBytes: event.totalBytes } };
    case 'progress':
      return { ...record, progress: { ...(record.progress ?? { totalBytes: 0 }), chunksDone: event.chunksDone, bytesDone: event.bytesDone, ...(event.totalBytes === undefined ? {} : { totalBytes: event.totalBytes }) } };
    case 'download-finished':
      return { ...record, status: 'verifying' };
    case 'verified':
      return { ...record, status: 'finalizing' };
    case 'staged': {
      const version = record.target?.version ?? null;
      const slotVersions = record.target ? { ...record.slotVersions, [record.target.slot]: record.target.version } : record.slotVersions;
      // The highest accepted only rises: a pinned older release is installed below it, never lowers it,
      // so after an unpin a replayed manifest between the two is still refused.
      const highestAccepted = version === null ? record.highestAccepted : atLeast(record.highestAccepted, version);
      return { ...record, status: 'updated-need-reboot', highestAccepted, slotVersions, lastCheck: { at: event.at, result: `staged ${version}` }, lastError: null };
    }
    case 'armed':
      return record.target === null ? record : { ...record, target: { ...record.target, armed: true } };
    case 'failed': {
      // Charged only to the release the pass was fetching, never to an earlier target still in the record.
      const version = event.charge;
      const failures = version === null ? record.failures : { ...record.failures, [version]: (record.failures[version] ?? 0) + 1 };
      const giveUp = version !== null && (failures[version] ?? 0) >= MAX_FAILURES_PER_VERSION && !record.skipped.some((s) => s.version === version);
      const skipped = giveUp ? [...record.skipped, { version, reason: `failed ${MAX_FAILURES_PER_VERSION} times, last with ${event.code}` }] : record.skipped;
      return {
        ...record,
        status: 'reporting-error',
        failures,
        skipped,
        lastCheck: { at: event.at, result: `error ${event.code}` },
        lastError: { code: event.code, message: event.message },
      };
    }
    case 'error-reported':
      return { ...record, status: 'idle' };
    case 'booted': {
      const slotVersions = { ...record.slotVersions, [event.slot]: event.version };
      // A staged update is finished once its slot is the one running; any other state (a download
      // cut by the reboot, say) is kept so it resumes.
      const done = record.status === 'updated-need-reboot' && record.target?.slot === event.slot;
      return done ? { ...record, status: 'idle', target: null, progress: null, slotVersions } : { ...record, slotVersions };
    }
    case 'boot-failed': {
      const version = record.target?.version;
      const skipped = version === undefined || record.skipped.some((s) => s.version === version) ? record.skipped : [...record.skipped, { version, reason: event.reason }];
      // A boot that failed is the release's fault: charged, and skipped at once.
      const failures = version === undefined ? record.failures : { ...record.failures, [version]: (record.failures[version] ?? 0) + 1 };
      return { ...record, status: 'idle', target: null, progress: null, skipped, failures, slotVersions: without(record.slotVersions, record.target?.slot), lastCheck: { at: event.at, result: `rolled back from ${version ?? 'unknown'}` } };
    }
    case 'unstaged': {
      // The slot keeps the bytes but cannot boot: it is no install to go back to, and a resumed release is fetched again.
      const version = record.target?.version ?? 'unknown';
      return { ...record, status: 'idle', target: null, progress: null, slotVersions: without(record.slotVersions, record.target?.slot), lastCheck: { at: event.at, result: `unstaged ${version}: ${event.reason}` } };
    }
    case 'pin': {
      // Pinned to another version than the one staged: the staged one is no longer wanted.
      const unstage = record.status === 'updated-need-reboot' && event.version !== null && record.target !== null && record.target.version !== event.version;
      return unstage ? { ...record, pinned: event.version, status: 'idle', target: null, progress: null } : { ...record, pinned: event.version };
    }
    case 'skip': {
      const failures = event.charged === true ? { ...record.failures, [event.version]: (record.failures[event.version] ?? 0) + 1 } : record.failures;
      const skipped = record.skipped.some((s) => s.version === event.version) ? record.skipped : [...record.skipped, { version: event.version, reason: event.reason }];
      return { ...record, failures, skipped };
    }
    case 'unskip': {
      const failures = Object.fromEntries(Object.entries(record.failures).filter(([version]) => version !== event.version));
      return { ...record, failures, skipped: record.skipped.filter((s) => s.version !== event.version) };
    }
  }
}

/** The highest accepted version only rises. */
function atLeast(highest: string | null, version: string): string {
  return highest !== null && compareVersions(version, highest) <= 0 ? highest : version;
}

function without(versions: Readonly<Record<string, string>>, slot: string | undefined): Readonly<Record<string, string>> {
  if (slot === undefined) return versions;
  return Object.fromEntries(Object.entries(versions).filter(([name]) => name !== slot));
}
