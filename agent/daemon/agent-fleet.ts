// What the agent tells the fleet store and reads from it, worked out from its record: the outcome of a
// trial boot, the failures a check charged to a release, the words for a halt, the breaker when off.

import { otherSlot } from '../slots/boot-chooser.ts';
import type { AttemptOutcome, BreakerView, HaltView } from '../fleet/fleet-agent.ts';
import type { RebootStrategy } from '../lock/reboot-coordinator.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { UpdateRecord } from '../update/update-state.ts';

/** Without an etcd lock there is no fleet store: nothing is recorded and nothing halts. */
export function breakerOff(strategy: RebootStrategy): BreakerView {
  return { state: 'off', reason: `reboot strategy ${strategy} keeps no fleet store in etcd` };
}

/** This trial boot's update: from the version in the other slot. */
export function trialOutcome(booted: { slot: SlotName; version: string }, record: UpdateRecord | null, result: 'succeeded' | 'gate-failed', reason: string | null): AttemptOutcome {
  return { version: booted.version, from: record?.slotVersions[otherSlot(booted.slot)] ?? 'unknown', result, reason };
}

/** A failure a check charged to a release (release-fault.ts: its own fault) is an apply-failed outcome; transport and host faults never are. */
export function chargedOutcomes(before: Readonly<Record<string, number>>, record: UpdateRecord | null, from: string): AttemptOutcome[] {
  const reason = record?.lastError ? `${record.lastError.code}: ${record.lastError.message}` : null;
  return Object.entries(record?.failures ?? {})
    .filter(([version, count]) => count > (before[version] ?? 0))
    .map(([version]) => ({ version, from, result: 'apply-failed', reason }));
}

export function haltReason(halt: HaltView): string {
  return `${halt.version} is halted fleet-wide by ${halt.by === 'breaker' ? 'the circuit breaker' : 'an operator'}: ${halt.reason}`;
}
