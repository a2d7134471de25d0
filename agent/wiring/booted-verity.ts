// The booted slot's recorded dm-verity root hash, read once when the agent starts: the health gate's
// verified-root probe checks the root against it, and the status shows the root as it is now.

import { inspectHostRoot } from '../health-io/verity-root-facts.ts';
import { openSlotHashStore } from '../slots/open-boot-chooser.ts';
import { VERIFIED_ROOT_PROBE } from '../health/health-ports.ts';
import type { BootedSlot } from '../slots/booted-slot.ts';
import type { SlotName } from '../slots/boot-chooser.ts';
import type { VerityProbe } from '../health/health-ports.ts';
import type { VerityView } from '../health/verity-root.ts';

/** The booted slot and its record: a hash, none, or why it could not be read. */
export interface BootedVerity {
  readonly slot: SlotName;
  readonly recorded: string | null;
  readonly problem: string | null;
}

/** null: nothing records hashes here (no slots.grubenv), or the booted slot is unknown. */
export async function readBootedVerity(grubenv: string | null, booted: BootedSlot): Promise<BootedVerity | null> {
  const store = openSlotHashStore({ grubenv: grubenv ?? undefined });
  if (store === null || !booted.known) return null;
  try {
    return { slot: booted.slot, recorded: (await store.read())[booted.slot]?.rootHash ?? null, problem: null };
  } catch (error) {
    return { slot: booted.slot, recorded: null, problem: `cannot read the recorded root hashes in ${store.path}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * The gate's probe: with a recorded hash the root must be verified by it; an unreadable record fails
 * the gate (it cannot tell). With none recorded (a release published without a tree) there is nothing to check.
 */
export function verifiedRootProbes(booted: BootedVerity | null): VerityProbe[] {
  if (booted === null || (booted.recorded === null && booted.problem === null)) return [];
  return [{ name: VERIFIED_ROOT_PROBE, verity: { recorded: booted.recorded } }];
}

/** The status's look at the root; null where nothing records hashes. */
export async function rootVerityView(booted: BootedVerity | null): Promise<(VerityView & { readonly slot: SlotName }) | null> {
  if (booted === null) return null;
  const view = await inspectHostRoot(booted.recorded);
  return { ...view, slot: booted.slot, ...(booted.problem === null ? {} : { verified: false, detail: booted.problem }) };
}
