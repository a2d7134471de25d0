// What a health gate found: each critical unit's and probe's state, verdict and reason, and the
// outcome; and the baseline (what was already broken on a confirmed boot) it is judged against.

import type { ProbeKind } from './health-ports.ts';

/** pending: still being waited for; pre-existing: not healthy, but already so on the last good boot. */
export type ItemVerdict = 'ok' | 'pending' | 'failed' | 'pre-existing';

/** Why a unit is critical: the operator listed it, cloud-config enabled it, or it is slipway's first boot that ran now. */
export type UnitSource = 'operator' | 'workload' | 'first-boot';

export interface UnitReport {
  readonly name: string;
  readonly source: UnitSource;
  readonly activeState: string;
  readonly subState: string;
  readonly result: string | null;
  readonly restarts: number | null;
  readonly verdict: ItemVerdict;
  readonly reason: string;
}

export interface ProbeReport {
  readonly name: string;
  readonly kind: ProbeKind;
  readonly verdict: ItemVerdict;
  readonly reason: string;
  readonly attempts: number;
}

export interface GateResult {
  /** null while the gate runs. */
  readonly healthy: boolean | null;
  /** What failed, one item after another ("app.service crash-looping: auto-restart, 4 restarts"); null unless unhealthy. */
  readonly reason: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  /** multi-user.target's ActiveState when last looked at. */
  readonly target: string;
  readonly units: readonly UnitReport[];
  readonly probes: readonly ProbeReport[];
}

/** What the agent needs of a finished gate: pass, or fail with the reason its rollback records. */
export type Health = { readonly healthy: true } | { readonly healthy: false; readonly reason: string };

/** A gate run on a version: `gate` on a trial boot, `baseline` measured on a confirmed one. */
export interface GateVerdict extends GateResult {
  readonly kind: 'gate' | 'baseline';
  readonly version: string;
  /** The baseline judged against (the version it was measured on); null: none applied. */
  readonly baselineVersion: string | null;
}

/** What was not healthy on a confirmed boot of `version`: a release replacing it is not blamed for these. */
export interface Baseline {
  readonly version: string;
  readonly at: string;
  readonly units: readonly string[];
  readonly probes: readonly string[];
}

/** The unhealthy items of a finished run, as the baseline keeps them. */
export function baselineOf(verdict: GateVerdict, at: string): Baseline {
  const bad = (v: ItemVerdict): boolean => v !== 'ok';
  return { version: verdict.version, at, units: verdict.units.filter((u) => bad(u.verdict)).map((u) => u.name), probes: verdict.probes.filter((p) => bad(p.verdict)).map((p) => p.name) };
}

/** The items a person should look at: failed first, then pre-existing, then still pending. */
export function notableItems(result: GateResult): { readonly name: string; readonly verdict: ItemVerdict; readonly reason: string }[] {
  const order: ItemVerdict[] = ['failed', 'pre-existing', 'pending'];
  const items = [...result.units, ...result.probes.map((p) => ({ ...p, name: `probe ${p.name}` }))];
  return order.flatMap((verdict) => items.filter((i) => i.verdict === verdict).map((i) => ({ name: i.name, verdict, reason: i.reason })));
}
