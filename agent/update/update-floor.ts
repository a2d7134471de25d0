// The security floor of the update record: what must survive a torn or corrupt state file (highest
// version accepted, skipped versions and their failures, the newest signed time, the pin, the slots'
// versions). Kept in a second small file; rebuilt from the running version when both are lost. Pure.

import { isVersion } from '../../images/release-manifest.ts';
import { compareVersions } from './version.ts';
import { INITIAL_RECORD } from './update-state.ts';
import type { UpdateRecord } from './update-state.ts';

export const FLOOR_FIELDS = ['highestAccepted', 'lastKnownTime', 'lastKnownTimeAt', 'pinned', 'failures', 'skipped', 'slotVersions'] as const;

export type UpdateFloor = Pick<UpdateRecord, (typeof FLOOR_FIELDS)[number]>;

export function floorOf(record: UpdateRecord): UpdateFloor {
  return Object.fromEntries(FLOOR_FIELDS.map((name) => [name, record[name]])) as unknown as UpdateFloor;
}

/** A fresh record (idle, nothing in progress) that keeps the floor. */
export function recordFromFloor(floor: UpdateFloor): UpdateRecord {
  return { ...INITIAL_RECORD, ...floor };
}

/**
 * With both copies lost, what the host still knows: the running version (os-release) was accepted,
 * so the floor is at least that and the running slot holds it. A skipped list cannot be rebuilt.
 */
export function rebuildFloor(record: UpdateRecord, booted: { readonly slot: string; readonly version: string }): UpdateRecord {
  if (!isVersion(booted.version)) return record;
  const highestAccepted = record.highestAccepted !== null && compareVersions(record.highestAccepted, booted.version) >= 0 ? record.highestAccepted : booted.version;
  return { ...record, highestAccepted, slotVersions: { ...record.slotVersions, [booted.slot]: booted.version } };
}
