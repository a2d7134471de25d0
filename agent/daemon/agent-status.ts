// What the agent reports about itself: the update state and progress, both slots with their
// versions and boot flags, the pin, the last check, what it is doing now and when it acts next.

import type { SlotName, SlotState } from '../slots/boot-chooser.ts';
import type { UpdateProgress, UpdateRecord, UpdateStatus } from '../update/update-state.ts';
import type { RebootStrategy } from '../lock/reboot-coordinator.ts';
import type { HookRun } from '../lock/reboot-hooks.ts';
import type { GateVerdict } from '../health/gate-verdict.ts';
import type { BreakerView } from '../fleet/fleet-agent.ts';
import type { WaveWait } from '../update/rollout-wave.ts';
import type { VerityView } from '../health/verity-root.ts';

/** What the agent is busy with beyond the update state machine; derived from its phase (agent-phase.ts). */
export type Activity = 'idle' | 'checking' | 'health-gate' | 'waiting-to-reboot' | 'rebooting' | 'rolling-back' | 'slot-unknown';

/**
 * "confirmed": the booted slot is marked good; "pending": the gate is running; "failed": rolling back;
 * "unknown": which slot is running is not known, so neither is its health. Derived from the agent's phase.
 */
export type BootHealth = 'confirmed' | 'pending' | 'failed' | 'unknown';

export interface SlotStatus {
  readonly name: SlotName;
  readonly version: string | null;
  readonly priority: number;
  readonly tries: number;
  readonly successful: boolean;
  readonly booted: boolean;
  readonly next: boolean;
}

export interface AgentStatus {
  readonly state: UpdateStatus;
  readonly activity: Activity;
  readonly progress: UpdateProgress | null;
  /** slot is null when no fact says which slot is running; `bootedUnknown` then says why. */
  readonly booted: { readonly slot: SlotName | null; readonly version: string };
  readonly bootedUnknown: { readonly code: string; readonly message: string } | null;
  readonly slots: readonly SlotStatus[];
  readonly target: { readonly version: string; readonly slot: string } | null;
  readonly pinned: string | null;
  /** Versions not installed automatically, why, and the failures charged to each (release-fault.ts). */
  readonly skipped: readonly { readonly version: string; readonly reason: string; readonly failures: number }[];
  readonly lastCheck: { readonly at: string; readonly result: string } | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
  readonly health: BootHealth;
  readonly strategy: RebootStrategy;
  readonly nextCheck: string | null;
  readonly nextWindow: string | null;
  /** A release the last check found that this host may take only from `until`, its place in the rollout (rollout-wave.ts); null: none. */
  readonly wave: WaveWait | null;
}

/** The fleet lock as the agent sees it when asked: holders and size, or why it could not look. */
export type LockView = { readonly max: number; readonly holders: readonly string[]; readonly heldByThisHost: boolean } | { readonly error: string } | null;

/** A first-boot cloud-config apply that failed (its marker), so the host lacks what its user-data declares; null: none pending. */
export type FirstBootView = { readonly at: string; readonly code: string; readonly message: string } | null;

/**
 * GetStatus's answer: the status and, fetched on demand, the fleet lock (null: the strategy uses none),
 * a first-boot cloud-config apply still to be done, the last run of each kind of reboot hook, and the
 * last (or running) health gate's verdict, and the fleet's circuit breaker (off without etcd; the
 * halts of the releases this host found or staged), and the root's dm-verity.
 */
/** The booted slot's root: its recorded dm-verity root hash, the live device's, and whether they agree; null where nothing records hashes. */
export type RootVerity = (VerityView & { readonly slot: SlotName }) | null;

export type StatusReport = AgentStatus & { readonly lock: LockView; readonly firstBoot: FirstBootView; readonly rebootHooks: readonly HookRun[]; readonly lastGate: GateVerdict | null; readonly breaker: BreakerView; readonly verity: RootVerity };

export function buildStatus(parts: {
  record: UpdateRecord;
  activity: Activity;
  booted: { slot: SlotName | null; version: string };
  bootedUnknown: { code: string; message: string } | null;
  slots: readonly SlotState[];
  next: SlotName | null;
  health: BootHealth;
  strategy: RebootStrategy;
  nextCheck: string | null;
  nextWindow: string | null;
  wave: WaveWait | null;
}): AgentStatus {
  const { record } = parts;
  return {
    state: record.status,
    activity: parts.activity,
    progress: record.progress,
    booted: parts.booted,
    bootedUnknown: parts.bootedUnknown,
    slots: parts.slots.map((slot) => ({
      name: slot.name,
      version: slot.name === parts.booted.slot ? parts.booted.version : (record.slotVersions[slot.name] ?? null),
      priority: slot.priority,
      tries: slot.tries,
      successful: slot.successful,
      booted: slot.name === parts.booted.slot,
      next: slot.name === parts.next,
    })),
    target: record.target === null ? null : { version: record.target.version, slot: record.target.slot },
    pinned: record.pinned,
    skipped: record.skipped.map((s) => ({ version: s.version, reason: s.reason, failures: record.failures[s.version] ?? 0 })),
    lastCheck: record.lastCheck,
    lastError: record.lastError,
    health: parts.health,
    strategy: parts.strategy,
    nextCheck: parts.nextCheck,
    nextWindow: parts.nextWindow,
    wave: parts.wave,
  };
}
