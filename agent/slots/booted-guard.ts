// The rule that the running slot is never written: a BootChooser and a slot opener that refuse,
// before touching the disk, any change while the booted slot is unknown, and any change that would
// put the running slot's contents or its place in the boot order at risk.

import { SlotError } from './slot-errors.ts';
import { otherSlot } from './boot-chooser.ts';
import type { BootChooser, BootState, SlotName } from './boot-chooser.ts';
import type { BootedSlot } from './booted-slot.ts';

/** Throws unless the booted slot is known and is not `target`; `what` names the refused write. */
export function refuseBootedTarget(booted: BootedSlot, target: SlotName, what: string): void {
  if (!booted.known) throw booted.error;
  if (booted.slot === target) {
    throw new SlotError('ERR_SLOT_BOOTED', `refusing to ${what} ${target}: it is the running slot (${booted.source})`);
  }
}

/**
 * Wraps `chooser` so that writes go through only with a known booted slot. Staging the running slot
 * (it has no new contents) is refused; so is making it unbootable unless the other slot already
 * boots next (a rollback away from it), which is the failed health gate's way out.
 */
export function guardBootChooser(chooser: BootChooser, booted: BootedSlot): BootChooser {
  const known = (): SlotName => {
    if (!booted.known) throw booted.error;
    return booted.slot;
  };
  return {
    kind: chooser.kind,
    read: () => chooser.read(),
    stage: async (slot, tries): Promise<BootState> => {
      refuseBootedTarget(booted, slot, 'stage');
      return chooser.stage(slot, tries);
    },
    markGood: async (slot): Promise<BootState> => {
      known();
      return chooser.markGood(slot);
    },
    markUnbootable: async (slot): Promise<BootState> => {
      if (known() === slot) {
        const { next } = await chooser.read();
        if (next !== otherSlot(slot)) {
          throw new SlotError('ERR_SLOT_BOOTED', `refusing to make ${slot} unbootable: it is the running slot (${booted.known ? booted.source : ''}) and ${otherSlot(slot)} is not the next boot; roll back first`);
        }
      }
      return chooser.markUnbootable(slot);
    },
    rollback: async (from): Promise<BootState> => {
      known();
      return chooser.rollback(from);
    },
  };
}

/**
 * The chooser of a disk that cannot be found because nothing says what booted: no slots to show, the
 * reason as its warning, and every change refused with that error.
 */
export function diskUnknownChooser(kind: BootChooser['kind'], error: SlotError): BootChooser {
  const refuse = (): Promise<BootState> => Promise.reject(error);
  return {
    kind,
    read: () => Promise.resolve({ slots: [], next: null, warnings: [error.message] }),
    stage: refuse,
    markGood: refuse,
    markUnbootable: refuse,
    rollback: refuse,
  };
}
