// The health gate, pure over its ports and the clock: multi-user.target reached, every critical unit
// healthy and settled (still healthy, no restart, for the settle time), every probe passing within
// the settled window; what the baseline says was already broken does not count against the release.

import { judgeUnit } from './unit-judgement.ts';
import { probeKind } from './health-ports.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Baseline, GateResult, ItemVerdict, ProbeReport, UnitReport, UnitSource } from './gate-verdict.ts';
import type { ProbeOutcome, ProbeRunner, ProbeSpec, UnitState, UnitStates } from './health-ports.ts';
import type { UnitJudgement } from './unit-judgement.ts';

/** slipway's first-boot unit: critical only on a boot where it ran (its condition passed). */
export const FIRST_BOOT_UNIT = 'slipway-cloudinit.service';
export const TARGET = 'multi-user.target';

export interface GateSettings {
  readonly timeoutMs: number;
  readonly pollMs: number;
  readonly settleMs: number;
  /** health.critical_units */
  readonly criticalUnits: readonly string[];
  /** health.workload_units: what cloud-config enabled. */
  readonly workloadUnits: readonly string[];
  readonly probes: readonly ProbeSpec[];
}

export interface GatePorts {
  readonly units: UnitStates;
  readonly probes: ProbeRunner;
  readonly clock: Clock;
  /** Told the gate's view after every poll (the verdict so far). */
  readonly onProgress?: (result: GateResult) => void;
}

export interface GateOptions {
  /** Applied to the items it lists; null: everything counts. */
  readonly baseline: Baseline | null;
  /** End at the first critical unit that is failed (a trial boot); false waits for the deadline (measuring a baseline). */
  readonly stopOnFailure: boolean;
}

interface Critical {
  readonly name: string;
  readonly source: UnitSource;
}

/** The critical units: the operator's, the workloads', and the first-boot unit if it ran on this boot. */
async function criticalUnits(units: UnitStates, settings: GateSettings): Promise<Critical[]> {
  const list: Critical[] = [];
  const add = (name: string, source: UnitSource): void => {
    if (!list.some((c) => c.name === name)) list.push({ name, source });
  };
  for (const name of settings.criticalUnits) add(name, 'operator');
  for (const name of settings.workloadUnits) add(name, 'workload');
  if ((await readState(units, FIRST_BOOT_UNIT)).condition === 'passed') add(FIRST_BOOT_UNIT, 'first-boot');
  return list;
}

interface ProbeTrack {
  attempts: number;
  last: ProbeOutcome | null;
  /** Passed since the settle window began. */
  passed: boolean;
}

/** A state that could not be read counts as not loaded for this poll (pending), never as a crash of the gate. */
async function readState(units: UnitStates, name: string): Promise<UnitState> {
  try {
    return await units.unitState(name);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { loadState: `unreadable: ${message}`, activeState: 'unknown', subState: 'unknown', result: null, nRestarts: null, condition: 'not-checked', started: false };
  }
}

async function attempt(runner: ProbeRunner, probe: ProbeSpec): Promise<ProbeOutcome> {
  try {
    return await runner.run(probe);
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

export async function awaitHealthyBoot(ports: GatePorts, settings: GateSettings, options: GateOptions): Promise<GateResult> {
  const { clock } = ports;
  const startedAt = clock.now().toISOString();
  const deadline = clock.now().getTime() + settings.timeoutMs;
  const critical = await criticalUnits(ports.units, settings);
  const baseUnits = new Set(options.baseline?.units ?? []);
  const baseProbes = new Set(options.baseline?.probes ?? []);
  const probes = new Map<string, ProbeTrack>(settings.probes.map((p) => [p.name, { attempts: 0, last: null, passed: false }]));
  /** When every unit that counts was last found healthy after not being so, and their restart counts then. */
  let settledSince: number | null = null;
  let restartsAtSettle = new Map<string, number | null>();
  /** Each unit's restart count when the gate first read it: a unit found up at the deadline but restarted since is blamed. */
  const restartsAtStart = new Map<string, number | null>();
  /** When each unit was last seen come up (ok after not ok, or with a new restart count), and that count. */
  const upSince = new Map<string, { readonly at: number; readonly restarts: number | null }>();

  for (;;) {
    const target = (await readState(ports.units, TARGET)).activeState;
    const states = await Promise.all(critical.map(async (c) => ({ ...c, state: await readState(ports.units, c.name) })));
    const judged = states.map((u) => ({ ...u, judgement: judgeUnit(u.state) }));
    const counting = judged.filter((u) => !baseUnits.has(u.name));
    const now = clock.now().getTime();
    const allOk = target === 'active' && counting.every((u) => u.judgement.state === 'ok');
    const restarted = settledSince === null ? [] : counting.filter((u) => restartsAtSettle.get(u.name) !== u.state.nRestarts);
    for (const u of judged) {
      if (!restartsAtStart.has(u.name)) restartsAtStart.set(u.name, u.state.nRestarts);
      const up = upSince.get(u.name);
      if (u.judgement.state !== 'ok') upSince.delete(u.name);
      else if (up === undefined || up.restarts !== u.state.nRestarts) upSince.set(u.name, { at: now, restarts: u.state.nRestarts });
    }
    if (!allOk || restarted.length > 0 || settledSince === null) {
      settledSince = allOk ? now : null;
      restartsAtSettle = new Map(counting.map((u) => [u.name, u.state.nRestarts]));
      for (const track of probes.values()) track.passed = false;
    }
    for (const probe of settings.probes) {
      const track = probes.get(probe.name);
      if (track === undefined || track.passed) continue;
      track.last = await attempt(ports.probes, probe);
      track.attempts++;
      track.passed = track.last.ok && settledSince !== null;
    }
    const settled = settledSince !== null && now - settledSince >= settings.settleMs;
    const probesOk = settings.probes.every((p) => baseProbes.has(p.name) || probes.get(p.name)?.passed === true);
    const fatal = options.stopOnFailure && counting.some((u) => u.judgement.state === 'failed');
    const over = settled && probesOk ? 'healthy' : fatal || now >= deadline ? 'unhealthy' : null;
    /** Out of time: what is still pending failed. A gate stopped early by a failed unit blames only that. */
    const timedOut = over === 'unhealthy' && now >= deadline;

    const unitReports = judged.map((u): UnitReport => {
      const up = upSince.get(u.name);
      const restartedDuring = timedOut && u.judgement.state === 'ok' && up !== undefined && now - up.at < settings.settleMs && u.state.nRestarts !== restartsAtStart.get(u.name);
      const judgement: UnitJudgement = restartedDuring ? { state: 'failed', reason: `restarting: ${u.state.nRestarts ?? '?'} restarts, the last within the ${settings.settleMs / 1000} s settle time` } : u.judgement;
      return {
        name: u.name,
        source: u.source,
        activeState: u.state.activeState,
        subState: u.state.subState,
        result: u.state.result,
        restarts: u.state.nRestarts,
        verdict: verdictOf(judgement, baseUnits.has(u.name), timedOut),
        reason: baseUnits.has(u.name) && judgement.state !== 'ok' ? `${judgement.reason} (already so on ${options.baseline?.version ?? 'the last good boot'})` : judgement.reason,
      };
    });
    const probeReports = settings.probes.map((p): ProbeReport => {
      const track = probes.get(p.name) ?? { attempts: 0, last: null, passed: false };
      const ok = track.passed || (over === 'unhealthy' && track.last?.ok === true);
      const judgement: UnitJudgement = ok ? { state: 'ok', reason: track.last?.detail ?? '' } : { state: 'pending', reason: track.last?.detail ?? 'not run yet' };
      const inBase = baseProbes.has(p.name);
      return { name: p.name, kind: probeKind(p), verdict: verdictOf(judgement, inBase, timedOut), reason: inBase && !ok ? `${judgement.reason} (already so on ${options.baseline?.version ?? 'the last good boot'})` : judgement.reason, attempts: track.attempts };
    });
    const finishedAt = over === null ? null : clock.now().toISOString();
    const reasons = [
      ...(target === 'active' || !timedOut ? [] : [`${TARGET} is ${target}`]),
      ...unitReports.filter((u) => u.verdict === 'failed').map((u) => `${u.name} ${u.reason}`),
      ...probeReports.filter((p) => p.verdict === 'failed').map((p) => `probe ${p.name}: ${p.reason}`),
    ];
    if (over === 'unhealthy' && reasons.length === 0) reasons.push(`not settled: healthy for ${Math.round((now - (settledSince ?? now)) / 1000)} s of the ${settings.settleMs / 1000} s settle time within the ${settings.timeoutMs / 1000} s timeout`);
    const result: GateResult = { healthy: over === null ? null : over === 'healthy', reason: over === 'unhealthy' ? reasons.join('; ') : null, startedAt, finishedAt, target, units: unitReports, probes: probeReports };
    ports.onProgress?.(result);
    if (over !== null) return result;
    const untilSettled = settledSince === null || settled ? settings.pollMs : settledSince + settings.settleMs - now;
    await clock.sleep(Math.max(1, Math.min(settings.pollMs, untilSettled, deadline - now)));
  }
}

/** An item's verdict: the baseline turns a failure into pre-existing; out of time, pending is failed. */
function verdictOf(judgement: UnitJudgement, inBaseline: boolean, timedOut: boolean): ItemVerdict {
  if (judgement.state === 'ok') return 'ok';
  if (inBaseline) return 'pre-existing';
  return judgement.state === 'failed' || timedOut ? 'failed' : 'pending';
}
