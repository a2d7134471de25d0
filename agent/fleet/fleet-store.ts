// The fleet's shared memory of a rollout, as a port: what each host's update attempts came to, which
// releases are halted (by the circuit breaker or an operator), and each host's last report.

export type OutcomeResult = 'succeeded' | 'gate-failed' | 'boot-failed' | 'apply-failed';

/** One host's attempt at one release. Only a release's own faults are reported as failures (release-fault.ts). */
export interface UpdateOutcome {
  readonly machineId: string;
  readonly host: string;
  readonly version: string;
  readonly from: string;
  readonly result: OutcomeResult;
  readonly reason: string | null;
  readonly at: string;
}

/** A release's halt: set by the breaker or an operator; `resumed` forgives the failures before it. */
export interface HaltRecord {
  readonly version: string;
  readonly state: 'halted' | 'resumed';
  readonly by: 'breaker' | 'operator';
  readonly reason: string;
  readonly at: string;
}

/**
 * Where one host stands, written by its agent when that changes (and now and then, so a host that went
 * quiet shows by its `at`). One per host: the keyspace grows with the fleet, not with its updates.
 */
export interface HostReport {
  readonly machineId: string;
  readonly host: string;
  /** The version and slot it runs. */
  readonly version: string;
  readonly slot: string;
  /** The agent's activity (idle, checking, health-gate, waiting-to-reboot, rebooting, …). */
  readonly activity: string;
  /** The running boot's health (trial, confirmed, …). */
  readonly health: string;
  /** The version staged for the next boot, if any. */
  readonly staged: string | null;
  /** A release it found but whose wave has not come for this host. */
  readonly waitingForWave: { readonly version: string; readonly until: string } | null;
  readonly at: string;
}

export interface FleetStore {
  recordOutcome(outcome: UpdateOutcome): Promise<void>;
  outcomes(version: string): Promise<readonly UpdateOutcome[]>;
  /** Every release's outcomes still kept, oldest first. */
  allOutcomes(): Promise<readonly UpdateOutcome[]>;
  halt(version: string): Promise<HaltRecord | null>;
  /** Every halt record (halted or resumed). */
  halts(): Promise<readonly HaltRecord[]>;
  recordHost(report: HostReport): Promise<void>;
  hosts(): Promise<readonly HostReport[]>;
  /** Writes the record unless one with the same state is there already; returns the record in force. */
  setHalt(record: HaltRecord): Promise<HaltRecord>;
}
