// The part every BootChooser adapter shares: each operation is one pure rule from slot-rules.ts,
// applied by the adapter's own read-modify-write of wherever it keeps the flags.

import { markSlotGood, markSlotUnbootable, rollbackFrom, stageSlot } from './slot-rules.ts';
import type { BootChooser, BootState, SlotName } from './boot-chooser.ts';
import type { RuleSlot } from './slot-rules.ts';

export type SlotRule = <T extends RuleSlot>(slots: readonly T[]) => T[];

export abstract class RuleBootChooser implements BootChooser {
  abstract readonly kind: BootChooser['kind'];
  abstract read(): Promise<BootState>;
  /** Reads the flags, applies `rule`, and writes the result back crash-safely. */
  protected abstract change(rule: SlotRule): Promise<BootState>;

  stage(slot: SlotName, tries: number): Promise<BootState> {
    return this.change((slots) => stageSlot(slots, slot, tries));
  }

  markGood(slot: SlotName): Promise<BootState> {
    return this.change((slots) => markSlotGood(slots, slot));
  }

  markUnbootable(slot: SlotName): Promise<BootState> {
    return this.change((slots) => markSlotUnbootable(slots, slot));
  }

  rollback(booted: SlotName): Promise<BootState> {
    return this.change((slots) => rollbackFrom(slots, booted));
  }
}
