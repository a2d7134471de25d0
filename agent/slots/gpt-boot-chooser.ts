// BootChooser adapter for GRUB's gptprio: boot flags live in the GPT attribute bits of USR-A/USR-B.

import { readGpt, writeGpt } from './gpt-disk.ts';
import { attributesWithFlags, flagsFromAttributes } from './gpt-slot-attributes.ts';
import { chooseNext } from './slot-rules.ts';
import { RuleBootChooser } from './rule-boot-chooser.ts';
import { findUsrSlots } from './usr-slots.ts';
import type { BlockDevice } from './block-device.ts';
import type { BootState, SlotState } from './boot-chooser.ts';
import type { SlotRule } from './rule-boot-chooser.ts';
import type { GptEntry } from './gpt-format.ts';
import type { GptReadResult } from './gpt-disk.ts';

export type OpenDevice = (options: { writable: boolean }) => Promise<BlockDevice>;

export class GptBootChooser extends RuleBootChooser {
  readonly kind = 'gptprio';

  private readonly openDevice: OpenDevice;

  constructor(openDevice: OpenDevice) {
    super();
    this.openDevice = openDevice;
  }

  async read(): Promise<BootState> {
    const device = await this.openDevice({ writable: false });
    try {
      const result = await readGpt(device, { repair: false });
      return bootStateOf(slotStates(result.table.entries, device.path), gptWarnings(device.path, result));
    } finally {
      await device.close();
    }
  }

  /**
   * Read, apply the pure rule, write back in crash-safe order. A damaged copy is repaired only by a
   * change that goes through (both copies are written whole): a refused rule writes nothing.
   */
  protected async change(rule: SlotRule): Promise<BootState> {
    const device = await this.openDevice({ writable: true });
    try {
      const result = await readGpt(device, { repair: false });
      const { table } = result;
      const before = slotStates(table.entries, device.path);
      const after = rule(before);
      const entries = table.entries.map((entry) => {
        const slot = after.find((s) => s.partition === entry.index + 1);
        return slot ? { ...entry, attributes: attributesWithFlags(entry.attributes, slot) } : entry;
      });
      const changed = entries.some((entry, i) => entry.attributes !== table.entries[i]?.attributes);
      if (changed || result.damaged) await writeGpt(device, table, entries);
      return bootStateOf(after, gptWarnings(device.path, { ...result, repaired: result.damaged !== null }));
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

export function bootStateOf(slots: readonly SlotState[], warnings: readonly string[] = []): BootState {
  return { slots, next: chooseNext(slots), warnings };
}

/** What an operator should hear about the table: a damaged copy, and whether it was rewritten. */
export function gptWarnings(devicePath: string, result: GptReadResult): string[] {
  const warnings = [...result.warnings];
  if (result.damaged) {
    const { copy, problem } = result.damaged;
    warnings.push(
      result.repaired
        ? `repaired the ${copy} GPT on ${devicePath} (${problem})`
        : `the ${copy} GPT on ${devicePath} is damaged (${problem}); the next change to the slots repairs it`,
    );
  }
  return warnings;
}
