// What the health gate asks of the host, in our own words: the state of a unit (the systemd adapter
// reads it over D-Bus) and the outcome of one probe (HTTP, a command, or the root's dm-verity; adapters in health-io/).

/** A unit as systemd reports it on this boot. */
export interface UnitState {
  /** loaded, not-found, masked, error, … */
  readonly loadState: string;
  /** active, reloading, inactive, failed, activating, deactivating. */
  readonly activeState: string;
  /** running, exited, dead, auto-restart, start, … */
  readonly subState: string;
  /** A service's Result (success, exit-code, signal, core-dump, timeout, start-limit-hit, …); null for other unit types. */
  readonly result: string | null;
  /** A service's NRestarts (automatic restarts since it was last started by a job); null for other unit types or an older systemd. */
  readonly nRestarts: number | null;
  /** Whether its Condition*= checks passed on this boot: "not-checked" while it was never asked to start. */
  readonly condition: 'passed' | 'failed' | 'not-checked';
  /** It left the inactive state at least once on this boot (InactiveExitTimestampMonotonic is set): it was started. */
  readonly started: boolean;
}

export interface UnitStates {
  unitState(name: string): Promise<UnitState>;
}

/** The HTTP status codes a probe accepts, both ends included. */
export interface StatusRange {
  readonly low: number;
  readonly high: number;
}

export interface HttpProbe {
  readonly name: string;
  readonly http: { readonly url: string; readonly status: StatusRange; readonly timeoutSeconds: number };
}

export interface ExecProbe {
  readonly name: string;
  /** argv, no shell; the first word an absolute path. */
  readonly exec: { readonly command: readonly string[]; readonly timeoutSeconds: number };
}

/** The name of the probe the agent adds when the booted slot has a recorded root hash. */
export const VERIFIED_ROOT_PROBE = 'verified-root';

/** The root must be a dm-verity device over `recorded`, the booted slot's root hash as the agent recorded it (null: unreadable, which fails). */
export interface VerityProbe {
  readonly name: string;
  readonly verity: { readonly recorded: string | null };
}

/** The probes an operator configures (health.probes); the agent adds the verified-root probe itself. */
export type ConfiguredProbe = HttpProbe | ExecProbe;

export type ProbeSpec = ConfiguredProbe | VerityProbe;

export type ProbeKind = 'http' | 'exec' | 'verity';

/** One attempt: passed or not, and what was seen ("HTTP 503", "exit status 1", "timed out after 5s"). */
export interface ProbeOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

/** Runs one attempt of a probe within its timeout; a failure is an outcome, never a throw. */
export interface ProbeRunner {
  run(probe: ProbeSpec): Promise<ProbeOutcome>;
}

export function probeKind(probe: ProbeSpec): ProbeKind {
  return 'http' in probe ? 'http' : 'exec' in probe ? 'exec' : 'verity';
}
