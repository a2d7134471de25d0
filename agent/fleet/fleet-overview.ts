// The fleet at a glance, as a pure function of what etcd holds and the time: per release, how many
// hosts run it, have it staged, wait for their wave or failed it (and why), and whether it is halted;
// who holds the reboot places; which hosts have not reported for longer than a bound.

import { compareVersions } from '../update/version.ts';
import type { LockStatus } from '../lock/lock-backend.ts';
import type { HaltRecord, HostReport, OutcomeResult, UpdateOutcome } from './fleet-store.ts';

export interface OverviewInput {
  /** The lock group (empty: locksmith's default group). */
  readonly group: string;
  readonly hosts: readonly HostReport[];
  readonly outcomes: readonly UpdateOutcome[];
  readonly halts: readonly HaltRecord[];
  readonly lock: LockStatus;
  readonly now: Date;
  /** A host whose last report is older than this is quiet. */
  readonly quietAfterMs: number;
}

export interface FailureRow {
  readonly host: string;
  readonly machineId: string;
  readonly result: Exclude<OutcomeResult, 'succeeded'>;
  readonly reason: string | null;
  readonly at: string;
}

export interface VersionRow {
  readonly version: string;
  readonly running: number;
  readonly staged: number;
  readonly waitingForWave: number;
  /** The earliest time a waiting host's wave comes, if any waits. */
  readonly nextWaveAt: string | null;
  readonly succeeded: number;
  /** Failures the breaker counts: those after the last resume, newest first. */
  readonly failures: readonly FailureRow[];
  /** Failures before an operator's resume, which no longer count. */
  readonly forgiven: number;
  readonly halt: { readonly state: 'halted' | 'resumed'; readonly by: 'breaker' | 'operator'; readonly reason: string; readonly at: string } | null;
}

export interface HostRow {
  readonly machineId: string;
  readonly host: string;
  readonly version: string;
  readonly slot: string;
  readonly activity: string;
  readonly health: string;
  readonly staged: string | null;
  readonly waitingForWave: { readonly version: string; readonly until: string } | null;
  readonly lastSeen: string;
  /** Milliseconds since its last report (null: its time does not parse). */
  readonly silentForMs: number | null;
  readonly quiet: boolean;
  readonly holdsPlace: boolean;
}

export type HolderKind = 'agent' | 'operator' | 'fleetlock' | 'locksmith';

export interface HolderRow {
  readonly id: string;
  /** A slipway agent's lease, an operator's hold, a FleetLock client (Zincati), or plain locksmith without a record. */
  readonly kind: HolderKind;
  readonly host: string | null;
  readonly since: string | null;
  readonly targetVersion: string | null;
  readonly expires: string | null;
  readonly alive: boolean | null;
}

export interface FleetOverview {
  readonly at: string;
  readonly group: string;
  readonly quietAfterMs: number;
  readonly versions: readonly VersionRow[];
  readonly hosts: readonly HostRow[];
  readonly lock: { readonly key: string; readonly max: number; readonly holders: readonly HolderRow[] };
  readonly quiet: readonly HostRow[];
}

/**
 * Reports come from every agent (and agents of other versions): a field missing or of another type
 * shows as "?" or nothing, rather than taking the whole overview down with it.
 */
function text(value: unknown, missing = '?'): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : missing;
}

function textOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : text(value);
}

function trustedHost(h: HostReport): HostReport {
  const wave = h.waitingForWave as { version?: unknown; until?: unknown } | null | undefined;
  return {
    machineId: text(h.machineId),
    host: text(h.host),
    version: text(h.version),
    slot: text(h.slot),
    activity: text(h.activity),
    health: text(h.health),
    staged: textOrNull(h.staged),
    waitingForWave: typeof wave === 'object' && wave !== null ? { version: text(wave.version), until: text(wave.until) } : null,
    at: text(h.at),
  };
}

function trustedOutcome(o: UpdateOutcome): UpdateOutcome {
  return { machineId: text(o.machineId), host: text(o.host), version: text(o.version), from: text(o.from), result: text(o.result) as OutcomeResult, reason: textOrNull(o.reason), at: text(o.at) };
}

/** Newest first; versions that do not parse fall back to their spelling, so the order is total. */
function newestFirst(a: string, b: string): number {
  return compareVersions(b, a) || b.localeCompare(a);
}

function holderKind(record: LockStatus['holders'][number]['record']): HolderKind {
  if (record === null) return 'locksmith';
  if (text(record.host).startsWith('fleetlock:')) return 'fleetlock';
  return record.expires === undefined ? 'agent' : 'operator';
}

export function fleetOverview(input: OverviewInput): FleetOverview {
  const now = input.now.getTime();
  const holderIds = new Set(input.lock.semaphore.holders);
  const hosts: HostRow[] = input.hosts.map(trustedHost).map((h) => {
    const seen = Date.parse(h.at);
    const silentForMs = Number.isNaN(seen) ? null : Math.max(0, now - seen);
    return {
      machineId: h.machineId,
      host: h.host,
      version: h.version,
      slot: h.slot,
      activity: h.activity,
      health: h.health,
      staged: h.staged,
      waitingForWave: h.waitingForWave,
      lastSeen: h.at,
      silentForMs,
      quiet: silentForMs === null || silentForMs > input.quietAfterMs,
      holdsPlace: holderIds.has(h.machineId),
    };
  });

  const names = new Set<string>();
  for (const h of hosts) {
    names.add(h.version);
    if (h.staged !== null) names.add(h.staged);
    if (h.waitingForWave !== null) names.add(h.waitingForWave.version);
  }
  const outcomes = input.outcomes.map(trustedOutcome);
  // As the agents judge them (circuit-breaker.ts): only "halted" halts and only "resumed" forgives.
  const halts = new Map(input.halts.filter((h) => h.state === 'halted' || h.state === 'resumed').map((h) => [text(h.version), h]));
  for (const o of outcomes) names.add(o.version);
  for (const version of halts.keys()) names.add(version);

  const versions = [...names].sort(newestFirst).map((version): VersionRow => {
    const halt = halts.get(version) ?? null;
    // As the breaker counts them (circuit-breaker.ts): an operator's resume forgives the failures before it.
    const since = halt?.state === 'resumed' ? Date.parse(halt.at) : Number.NEGATIVE_INFINITY;
    const tried = outcomes.filter((o) => o.version === version);
    const failed = tried.filter((o) => o.result !== 'succeeded');
    const counted = failed.filter((o) => !(Date.parse(o.at) <= since));
    const waiting = hosts.filter((h) => h.waitingForWave?.version === version);
    const waves = waiting.map((h) => h.waitingForWave?.until ?? '').filter((t) => !Number.isNaN(Date.parse(t)));
    return {
      version,
      running: hosts.filter((h) => h.version === version).length,
      staged: hosts.filter((h) => h.staged === version).length,
      waitingForWave: waiting.length,
      nextWaveAt: waves.sort((a, b) => Date.parse(a) - Date.parse(b))[0] ?? null,
      succeeded: tried.length - failed.length,
      failures: counted
        .map((o) => ({ host: o.host, machineId: o.machineId, result: o.result as FailureRow['result'], reason: o.reason, at: o.at }))
        .sort((a, b) => Date.parse(b.at) - Date.parse(a.at)),
      forgiven: failed.length - counted.length,
      halt: halt === null ? null : { state: halt.state, by: halt.by === 'breaker' ? 'breaker' : 'operator', reason: text(halt.reason), at: text(halt.at) },
    };
  });

  const holders = input.lock.holders.map(
    (h): HolderRow => ({
      id: h.id,
      kind: holderKind(h.record),
      host: h.record === null ? null : text(h.record.host),
      since: h.record === null ? null : text(h.record.since),
      targetVersion: h.record === null ? null : text(h.record.targetVersion),
      expires: textOrNull(h.record?.expires),
      alive: h.alive,
    }),
  );

  return {
    at: input.now.toISOString(),
    group: input.group,
    quietAfterMs: input.quietAfterMs,
    versions,
    hosts,
    lock: { key: input.lock.key, max: input.lock.semaphore.max, holders },
    quiet: hosts.filter((h) => h.quiet).sort((a, b) => (b.silentForMs ?? Number.MAX_VALUE) - (a.silentForMs ?? Number.MAX_VALUE)),
  };
}
