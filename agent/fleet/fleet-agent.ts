// One agent's side of the fleet store (reboot strategy etcd-lock): the circuit breaker it consults
// before it downloads or boots into a release, the outcome of each update it attempts, and its host
// report. A report that cannot be written is logged and written again later; it never fails an update.

import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { judgeRelease } from './circuit-breaker.ts';
import { FleetError } from './fleet-errors.ts';
import type { Clock } from '../../platform/clock.ts';
import type { BreakerSettings } from './circuit-breaker.ts';
import type { FleetStore, HaltRecord, HostReport, OutcomeResult, UpdateOutcome } from './fleet-store.ts';

/** A halt in force, as status shows it. */
export interface HaltView {
  readonly version: string;
  readonly by: 'breaker' | 'operator';
  readonly reason: string;
  readonly at: string;
}

/** The breaker in status: off without etcd; on, with its thresholds and the halts of the releases this host found or staged. */
export type BreakerView =
  | { readonly state: 'off'; readonly reason: string }
  | { readonly state: 'on'; readonly failures: number; readonly fraction: number; readonly halted: readonly HaltView[]; readonly error: string | null };

/** What the agent tells of one attempt; who, and when, the fleet agent adds. */
export interface AttemptOutcome {
  readonly version: string;
  readonly from: string;
  readonly result: OutcomeResult;
  readonly reason: string | null;
}

/** Where the host stands, as the agent's status gives it (HostReport without who and when). */
export type HostState = Omit<HostReport, 'machineId' | 'host' | 'at'>;

export interface FleetAgentDeps {
  /** The store, opened on first use (etcd's client is loaded after the agent answers). */
  readonly store: () => Promise<FleetStore>;
  readonly breaker: BreakerSettings;
  readonly machineId: string;
  readonly host: string;
  readonly clock: Clock;
  /** How often the host report is written even when nothing changed. */
  readonly reportEveryMs: number;
  readonly log: (fields: Record<string, unknown>, message: string) => void;
}

export class FleetAgent {
  private readonly deps: FleetAgentDeps;
  /** Outcomes whose write failed, by version: written again at the next report. */
  private readonly unsent = new Map<string, UpdateOutcome>();
  private latest: HostState | null = null;
  private written: string | null = null;
  private writing: Promise<void> | null = null;
  /** The last release the breaker refused here: status shows its halt while it lasts. */
  private refused: string | null = null;

  constructor(deps: FleetAgentDeps) {
    this.deps = deps;
  }

  /**
   * Whether `version` may be downloaded or booted into: null, or the halt in force. Trips the breaker
   * (writes the halt record) when this host is the one to find the release's failures at the
   * threshold. Throws ERR_FLEET_UNREACHABLE when etcd cannot be read: the caller does not go on
   * (fail-closed: without etcd this host cannot take the reboot lock either).
   */
  async admit(version: string): Promise<HaltView | null> {
    let halt: HaltRecord | null;
    try {
      const store = await this.deps.store();
      const [outcomes, record] = await Promise.all([store.outcomes(version), store.halt(version)]);
      const verdict = judgeRelease(version, outcomes, record, this.deps.breaker);
      if (!verdict.halted) {
        if (this.refused === version) this.refused = null;
        return null;
      }
      halt = record?.state === 'halted' ? record : null;
      if (verdict.trip) {
        halt = await store.setHalt({ version, state: 'halted', by: 'breaker', reason: verdict.reason, at: this.deps.clock.now().toISOString() });
        this.deps.log({ version, failures: verdict.failures, attempts: verdict.attempts }, `circuit breaker tripped: ${version} is halted fleet-wide (${verdict.reason})`);
        // An operator's resume that won the race leaves the release free to go.
        if (halt.state !== 'halted') return null;
      }
      if (halt === null) return null;
    } catch (error) {
      throw new FleetError('ERR_FLEET_UNREACHABLE', `cannot read the circuit breaker of ${version} in etcd`, { cause: error });
    }
    this.refused = version;
    return { version, by: halt.by, reason: halt.reason, at: halt.at };
  }

  /** Records one attempt; a write that fails is logged and tried again at the next report. Never throws. */
  async recordOutcome(attempt: AttemptOutcome): Promise<void> {
    const outcome: UpdateOutcome = { ...attempt, machineId: this.deps.machineId, host: this.deps.host, at: this.deps.clock.now().toISOString() };
    this.unsent.set(outcome.version, outcome);
    await this.sendOutcomes();
  }

  private async sendOutcomes(): Promise<void> {
    for (const [version, outcome] of [...this.unsent]) {
      try {
        await (await this.deps.store()).recordOutcome(outcome);
        if (this.unsent.get(version) === outcome) this.unsent.delete(version);
        this.deps.log({ version, result: outcome.result }, `recorded the outcome of ${version} in etcd: ${outcome.result}`);
      } catch (error) {
        this.deps.log({ version, result: outcome.result, code: errorCode(error), error: causeChain(error) }, `could not record the outcome of ${version} in etcd; trying again at the next report`);
      }
    }
  }

  /** Tells where the host stands: written when it changed, one write at a time (the latest wins). */
  hostChanged(state: HostState): void {
    this.latest = state;
    this.writing ??= this.writeHost(false).finally(() => (this.writing = null));
  }

  /** Settles once the host report being written (if any) is written or has failed. */
  async settled(): Promise<void> {
    await this.writing;
  }

  private async writeHost(always: boolean): Promise<void> {
    for (let force = always; this.latest !== null; force = false) {
      const state = this.latest;
      const key = JSON.stringify(state);
      if (!force && key === this.written) return;
      try {
        await (await this.deps.store()).recordHost({ ...state, machineId: this.deps.machineId, host: this.deps.host, at: this.deps.clock.now().toISOString() });
        this.written = key;
      } catch (error) {
        this.deps.log({ code: errorCode(error), error: causeChain(error) }, 'could not write this host\'s report to etcd; trying again at the next change or report');
        return;
      }
    }
  }

  /** Every report interval: the host report (even unchanged, so a quiet host shows by its time) and any unsent outcome. Never returns. */
  async run(): Promise<never> {
    for (;;) {
      await this.deps.clock.sleep(this.deps.reportEveryMs);
      await this.writing;
      this.writing = this.writeHost(true).finally(() => (this.writing = null));
      await this.writing;
      await this.sendOutcomes();
    }
  }

  /** The breaker for status: the halts in force for `versions` (a staged one) and the release it last refused. */
  async view(versions: readonly (string | null)[]): Promise<BreakerView> {
    const { failures, fraction } = this.deps.breaker;
    const wanted = [...new Set([...versions, this.refused].filter((v): v is string => v !== null))];
    try {
      const store = await this.deps.store();
      const records = await Promise.all(wanted.map((v) => store.halt(v)));
      const halted = records.filter((r): r is HaltRecord => r?.state === 'halted').map(({ version, by, reason, at }) => ({ version, by, reason, at }));
      return { state: 'on', failures, fraction, halted, error: null };
    } catch (error) {
      return { state: 'on', failures, fraction, halted: [], error: causeChain(error) };
    }
  }
}
