// What the agent's behaviour (agent-core.ts) needs from outside it: its ports (the update path, the
// boot chooser, the reboot lock, the health gate, the hooks, the clock) as the wiring hands them over.

import type { FirstBootView, RootVerity } from './agent-status.ts';
import type { FleetAgent } from '../fleet/fleet-agent.ts';
import type { HookRun } from '../lock/reboot-hooks.ts';
import type { GateVerdict, Health } from '../health/gate-verdict.ts';
import type { BootChooser } from '../slots/boot-chooser.ts';
import type { BootedSlot } from '../slots/booted-slot.ts';
import type { PlaceKeeper } from '../lock/place-keeper.ts';
import type { Arming, CoordinatorOutcome, RebootStrategy } from '../lock/reboot-coordinator.ts';
import type { Clock } from '../../platform/clock.ts';
import type { PlanDecision, UpdateOutcome } from '../update/run-update-once.ts';
import type { ScheduleSettings } from '../update/update-schedule.ts';
import type { RecordStore } from '../update/record-store.ts';
import type { UpdateRecord } from '../update/update-state.ts';

export type Log = (fields: Record<string, unknown>, message: string) => void;

/** How a reboot is asked for: `now` ignores reboot windows, `ignoreInhibitors` logind's block inhibitors (operators only). */
export interface RebootOptions {
  readonly now: boolean;
  readonly ignoreInhibitors: boolean;
}

export interface AgentCoreDeps {
  readonly clock: Clock;
  readonly random: () => number;
  /** The update record the update path persists too. */
  readonly records: RecordStore;
  /** Guarded: refuses every change while the booted slot is unknown (agent/slots/booted-guard.ts). */
  readonly chooser: BootChooser;
  /** The running slot as the facts say, known or not: an unknown one keeps the agent in phase slot-unknown. */
  readonly booted: { readonly slot: BootedSlot; readonly version: string };
  /** One pass of the update path; `onRecord` hears every persisted step; `ignoreWave`: an operator's --now takes a release its rollout has not brought to this host yet. */
  readonly updateOnce: (onRecord: (record: UpdateRecord) => void, ignoreWave: boolean) => Promise<UpdateOutcome>;
  readonly plan: () => Promise<PlanDecision>;
  /** Takes the fleet lock per strategy (inside a window unless `now`), runs `prepare` holding it, and reboots. */
  readonly rebootUnderLock: (targetVersion: string, options: RebootOptions, arming?: Arming) => Promise<CoordinatorOutcome>;
  /** Keeps the place this host may hold from the reboot that brought it here alive, until stopped; null without a lock that has leases. */
  readonly keepPlace: () => PlaceKeeper | null;
  /** Boot tries a staged slot gets when it is armed. */
  readonly tries: number;
  readonly releaseLock: () => Promise<'released' | 'not-held'>;
  /** The fleet lock's holders and size; null when the strategy uses no lock. */
  readonly lockView: () => Promise<{ readonly max: number; readonly holders: readonly string[]; readonly heldByThisHost: boolean } | null>;
  /** The trial boot's health gate; `previous` is the version this boot replaced (its baseline applies). */
  readonly health: (previous: string | null) => Promise<Health>;
  /** On a confirmed boot: measures in the background what is not healthy, as the next release's baseline. */
  readonly measureBaseline: () => void;
  /** The trial gate's verdict, running or last (health/boot-health.ts), for the status. */
  readonly lastGate: () => GateVerdict | null;
  /** The root as it is now against the booted slot's recorded root hash, for status; null where nothing records hashes. */
  readonly verity: () => Promise<RootVerity>;
  /** The marker a failed first-boot `cloud-config apply` left, read when status is asked for. */
  readonly firstBootPending: () => Promise<FirstBootView>;
  /** The operator's reboot.after_healthy hooks, run once the gate passed and before the place is given back. */
  readonly afterHealthy: () => Promise<void>;
  /** The last run of each kind of reboot hook, for status. */
  readonly hookRuns: () => readonly HookRun[];
  readonly schedule: ScheduleSettings;
  readonly checks: boolean;
  readonly strategy: RebootStrategy;
  /** The fleet's circuit breaker and each attempt's outcome in etcd; null without an etcd lock (the breaker is off). */
  readonly fleet: Pick<FleetAgent, 'admit' | 'recordOutcome' | 'view'> | null;
  readonly nextWindow: () => string | null;
  readonly log: Log;
}

