// Which slot is running: the kernel command line names the /usr (or root) partition by PARTUUID
// or PARTLABEL, and that is matched against the slots of the disk.

import { readFile } from 'node:fs/promises';
import { SlotError } from './slot-errors.ts';
import type { BootChooser, SlotName, SlotState } from './boot-chooser.ts';

/** Parameters that name the partition holding the running OS, most specific first. */
export const SLOT_PARAMETERS = ['mount.usr', 'usr', 'verity.usr', 'root'] as const;

export type PartitionRef = { readonly partuuid: string } | { readonly partlabel: string };

/** Splits a command line into key=value pairs, honouring double quotes as the kernel does. */
export function parseCmdline(cmdline: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const match of cmdline.matchAll(/(?:[^\s"]+|"[^"]*")+/g)) {
    const word = match[0].replaceAll('"', '');
    const eq = word.indexOf('=');
    if (eq > 0) parameters.set(word.slice(0, eq), word.slice(eq + 1));
    else parameters.set(word, '');
  }
  return parameters;
}

export function partitionRefFrom(value: string): PartitionRef | null {
  const byUuid = /^(?:PARTUUID=|\/dev\/disk\/by-partuuid\/)([0-9a-fA-F-]{36})$/.exec(value);
  if (byUuid?.[1]) return { partuuid: byUuid[1].toLowerCase() };
  const byLabel = /^(?:PARTLABEL=|\/dev\/disk\/by-partlabel\/)(.+)$/.exec(value);
  if (byLabel?.[1]) return { partlabel: byLabel[1] };
  return null;
}

/** The booted slot according to the command line, or an error saying what was looked for. */
export function bootedSlotFromCmdline(cmdline: string, slots: readonly SlotState[]): SlotName {
  const parameters = parseCmdline(cmdline);
  const tried: string[] = [];
  for (const key of SLOT_PARAMETERS) {
    const value = parameters.get(key);
    if (value === undefined) continue;
    tried.push(`${key}=${value}`);
    const ref = partitionRefFrom(value);
    if (!ref) continue;
    const slot = slots.find((s) => ('partuuid' in ref ? s.partuuid === ref.partuuid : s.name === ref.partlabel));
    if (slot) return slot.name;
  }
  const known = slots.map((s) => `${s.name}=${s.partuuid}`).join(', ');
  const seen = tried.length > 0 ? tried.join(' ') : `none of ${SLOT_PARAMETERS.join(', ')}`;
  throw new SlotError('ERR_BOOTED_SLOT_UNKNOWN', `the kernel command line names no slot of this disk (${seen}; slots: ${known})`);
}

/** The booted slot, or null when the command line names no slot of this disk (an image file). */
export function bootedSlotOrNull(cmdline: string, slots: readonly SlotState[]): SlotName | null {
  try {
    return bootedSlotFromCmdline(cmdline, slots);
  } catch {
    return null;
  }
}

/**
 * Without a command line that names a slot (an image file being serviced), the running OS is taken
 * to be the last good one: the successful slot with the highest priority.
 */
export function lastGoodSlot(slots: readonly SlotState[]): SlotName | null {
  const good = slots.filter((s) => s.successful && s.priority > 0).sort((a, b) => b.priority - a.priority);
  return good[0]?.name ?? null;
}

/** The slot named on the kernel command line, else the last slot marked good; null when neither tells. */
export async function findBootedSlot(chooser: BootChooser, procCmdline: string): Promise<SlotName | null> {
  const state = await chooser.read();
  const cmdline = await readFile(procCmdline, 'utf8').catch(() => '');
  return bootedSlotOrNull(cmdline, state.slots) ?? lastGoodSlot(state.slots);
}
