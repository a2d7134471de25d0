// The health gate's memory: runs the gate on a trial boot against the baseline of the release it
// replaces, measures the baseline on a confirmed boot, keeps both (HealthStore), and tells the
// journal and the metrics what it found.

import { awaitHealthyBoot } from './health-gate.ts';
import { baselineOf, notableItems } from './gate-verdict.ts';
import type { Clock } from '../../platform/clock.ts';
import type { GateSettings } from './health-gate.ts';
import type { Baseline, GateResult, GateVerdict } from './gate-verdict.ts';
import type { ProbeRunner, UnitStates } from './health-ports.ts';

/** Where the baseline and the last gate's verdict are kept across restarts and reboots. */
export interface HealthStore {
  /** null: none yet, or unreadable (`warning` says so). */
  load(): Promise<{ readonly baseline: Baseline | null; readonly lastGate: GateVerdict | null; readonly warning: string | null }>;
  saveBaseline(baseline: Baseline): Promise<void>;
  saveLastGate(verdict: GateVerdict): Promise<void>;
}

type Log = (fields: Record<string, unknown>, message: string) => void;

export interface BootHealthDeps {
  readonly units: UnitStates;
  readonly probes: ProbeRunner;
  readonly clock: Clock;
  readonly store: HealthStore;
  readonly settings: GateSettings;
  readonly log: Log;
  /** Told every view of a run, the running ones included (the metrics). */
  readonly onVerdict?: (verdict: GateVerdict) => void;
}

export class BootHealth {
  private readonly deps: BootHealthDeps;
  private loaded: Promise<void> | null = null;
  private baselineNow: Baseline | null = null;
  /** The trial gate's verdict: the one running, else the last one persisted. */
  private gateNow: GateVerdict | null = null;

  constructor(deps: BootHealthDeps) {
    this.deps = deps;
  }

  /** Reads what was kept; called before the first run, and by the status when it is asked for first. */
  load(): Promise<void> {
    this.loaded ??= (async () => {
      const { baseline, lastGate, warning } = await this.deps.store.load();
      if (warning !== null) this.deps.log({}, warning);
      this.baselineNow = baseline;
      this.gateNow ??= lastGate;
    })();
    return this.loaded;
  }

  lastGate(): GateVerdict | null {
    return this.gateNow;
  }

  baseline(): Baseline | null {
    return this.baselineNow;
  }

  /**
   * The trial boot's gate on `version`. The baseline counts only if it was measured on `previous`, the
   * version this boot replaced (the one a rollback returns to): what was broken there a rollback
   * would not mend. A passed gate's findings are the new baseline.
   */
  async gate(version: string, previous: string | null): Promise<GateVerdict> {
    await this.load();
    const baseline = this.baselineNow !== null && this.baselineNow.version === previous ? this.baselineNow : null;
    if (this.baselineNow !== null && baseline === null) {
      this.deps.log({ baselineVersion: this.baselineNow.version, previous }, `health baseline was measured on ${this.baselineNow.version}, not on ${previous ?? 'an unknown version'} which this boot replaced; not applied`);
    }
    const verdict = await this.run('gate', version, baseline, true);
    await this.deps.store.saveLastGate(verdict);
    if (verdict.healthy === true) await this.keepBaseline(verdict);
    return verdict;
  }

  /** Measures on a confirmed boot what is not healthy (waiting, like the gate, for the settle time or the deadline), and keeps it as the baseline of `version`. */
  async measureBaseline(version: string): Promise<Baseline> {
    await this.load();
    const verdict = await this.run('baseline', version, null, false);
    return this.keepBaseline(verdict);
  }

  private async keepBaseline(verdict: GateVerdict): Promise<Baseline> {
    const baseline = baselineOf(verdict, this.deps.clock.now().toISOString());
    await this.deps.store.saveBaseline(baseline);
    this.baselineNow = baseline;
    const broken = [...baseline.units, ...baseline.probes.map((p) => `probe ${p}`)];
    this.deps.log({ version: baseline.version, units: baseline.units, probes: baseline.probes }, `health baseline of ${baseline.version}: ${broken.length === 0 ? 'everything healthy' : `not healthy: ${broken.join(', ')}`}`);
    return baseline;
  }

  private async run(kind: GateVerdict['kind'], version: string, baseline: Baseline | null, stopOnFailure: boolean): Promise<GateVerdict> {
    const wrap = (result: GateResult): GateVerdict => ({ ...result, kind, version, baselineVersion: baseline?.version ?? null });
    const result = await awaitHealthyBoot(
      {
        units: this.deps.units,
        probes: this.deps.probes,
        clock: this.deps.clock,
        onProgress: (progress) => {
          const verdict = wrap(progress);
          if (kind === 'gate') this.gateNow = verdict;
          this.deps.onVerdict?.(verdict);
        },
      },
      this.deps.settings,
      { baseline, stopOnFailure },
    );
    const verdict = wrap(result);
    for (const item of notableItems(result)) {
      const unit = result.units.find((u) => u.name === item.name);
      const fields = unit === undefined ? { probe: item.name.replace(/^probe /, ''), verdict: item.verdict, reason: item.reason } : { unit: unit.name, activeState: unit.activeState, subState: unit.subState, result: unit.result, restarts: unit.restarts, verdict: item.verdict, reason: item.reason };
      this.deps.log({ version, kind, ...fields }, `health ${kind} of ${version}: ${item.name} ${item.verdict}: ${item.reason}`);
    }
    return verdict;
  }
}
