// BootChooser adapter for GRUB's gptprio: boot flags live in the GPT attribute bits of USR-A/USR-B.

import { readGpt, writeGpt } from './gpt-disk.ts';
import { attributesWithFlags, flagsFromAttributes } from './gpt-slot-attributes.ts';
import { chooseNext, markSlotGood, markSlotUnbootable, rollbackFrom, stageSlot } from './slot-rules.ts';
import { findUsrSlots } from './usr-slots.ts';
import type { BlockDevice } from './block-device.ts';
import type { BootChooser, BootState, SlotName, SlotState } from './boot-chooser.ts';
import type { GptEntry } from './gpt-format.ts';

export type OpenDevice = (options: { writable: boolean }) => Promise<BlockDevice>;

export class GptBootChooser implements BootChooser {
  readonly kind = 'gptprio';

  private readonly openDevice: OpenDevice;

  constructor(openDevice: OpenDevice) {
    this.openDevice = openDevice;
  }

  async read(): Promise<BootState> {
    const device = await this.openDevice({ writable: false });
    try {
      const { table } = await readGpt(device, { repair: false });
      return bootStateOf(slotStates(table.entries, device.path));
    } finally {
      await device.close();
    }
  }

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

  /** Read (repairing a damaged copy), apply the pure rule, write back in crash-safe order. */
  private async change(rule: (slots: readonly SlotState[]) => SlotState[]): Promise<BootState> {
    const device = await this.openDevice({ writable: true });
    try {
      const { table } = await readGpt(device, { repair: true });
      const before = slotStates(table.entries, device.path);
      const after = rule(before);
      const entries = table.entries.map((entry) => {
        const slot = after.find((s) => s.partition === entry.index + 1);
        return slot ? { ...entry, attributes: attributesWithFlags(entry.attributes, slot) } : entry;
      });
      if (entries.some((entry, i) => entry.attributes !== table.entries[i]?.attributes)) await writeGpt(device, table, entries);
      return bootStateOf(after);
    } finally {
      await device.close();
    }
  }
}

export function slotStates(entries: readonly GptEntry[], devicePath: string): SlotState[] {
  return findUsrSlots(entries, devicePath).map(({ name, entry }) => ({
    name,
    partuuid: entry.uniqueGuid,
    partition: entry.index + 1,
    ...flagsFromAttributes(entry.attributes),
  }));
}

export function bootStateOf(slots: readonly SlotState[]): BootState {
  return { slots, next: chooseNext(slots) };
}
