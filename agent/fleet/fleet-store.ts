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

export interface FleetStore {
  recordOutcome(outcome: UpdateOutcome): Promise<void>;
  outcomes(version: string): Promise<readonly UpdateOutcome[]>;
  halt(version: string): Promise<HaltRecord | null>;
  /** Writes the record unless one with the same state is there already; returns the record in force. */
  setHalt(record: HaltRecord): Promise<HaltRecord>;
}
