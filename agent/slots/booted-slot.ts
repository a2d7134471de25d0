// Which slot of a disk is running, from facts only: the partitions the kernel command line names,
// the partition under the mounted /usr (or /), or an operator's --booted for a disk image. Never a
// guess from the boot flags: after an operator's rollback the highest-priority good slot is the
// one NOT running, and writing it would overwrite the running OS.

import { readFile } from 'node:fs/promises';
import { cmdlineFacts, describeRef } from './kernel-cmdline.ts';
import { mountedFacts } from './mounted-partitions.ts';
import { SlotError } from './slot-errors.ts';
import type { PartitionFact } from './kernel-cmdline.ts';
import type { MountPaths } from './mounted-partitions.ts';
import type { SlotName, SlotState } from './boot-chooser.ts';

/** Known, with the fact it came from; or unknown, with the error every write is refused with. */
export type BootedSlot = { readonly known: true; readonly slot: SlotName; readonly source: string } | { readonly known: false; readonly error: SlotError };

export interface BootedSlotHost extends MountPaths {
  readonly procCmdline: string;
  /** The operator's --booted, for a disk image this host did not boot from; null when not given. */
  readonly bootedSlot: SlotName | null;
}

/** What was read from the host, before it is matched against one disk's slots. */
export interface BootFacts {
  readonly operator: SlotName | null;
  readonly facts: readonly PartitionFact[];
  /** One line per place looked at, for a refusal. */
  readonly looked: readonly string[];
}

export async function readBootFacts(host: BootedSlotHost): Promise<BootFacts> {
  const looked: string[] = [];
  let cmdline: string | null = null;
  try {
    cmdline = await readFile(host.procCmdline, 'utf8');
  } catch (error) {
    looked.push(`${host.procCmdline} could not be read (${(error as Error).message})`);
  }
  const fromCmdline = cmdline === null ? { facts: [], unusable: [] } : cmdlineFacts(cmdline);
  if (cmdline !== null) {
    const named = [...fromCmdline.facts.map((f) => f.source), ...fromCmdline.unusable.map((u) => `${u} (not a partition)`)];
    looked.push(`${host.procCmdline}: ${named.length === 0 ? 'no mount.usr=, usr=, verity.usr=, usrhash=, root= or roothash=' : named.join(', ')}`);
  }
  const mounted = await mountedFacts(host);
  looked.push(`${host.procMountinfo}: ${mounted.looked}`);
  return { operator: host.bootedSlot, facts: [...fromCmdline.facts, ...mounted.facts], looked };
}

/**
 * The slot of `disk` the facts name. Facts that name partitions of other disks say nothing about
 * this one; two facts naming different slots, or --booted against a fact, make it unknown.
 */
export function resolveBootedSlot(input: BootFacts, slots: readonly SlotState[], disk: string): BootedSlot {
  const matches = input.facts.flatMap((fact) => {
    const { ref } = fact;
    const slot = slots.find((s) => ('partuuid' in ref ? s.partuuid === ref.partuuid : s.name === ref.partlabel));
    return slot ? [{ slot: slot.name, source: fact.source }] : [];
  });
  const named = [...new Set(matches.map((m) => m.slot))];
  const said = (): string => matches.map((m) => `${m.source} is ${m.slot}`).join('; ');
  if (named.length > 1) {
    return unknown('ERR_BOOTED_SLOT_CONFLICT', `the facts about which slot of ${disk} is running disagree (${said()}); every change to the slots is refused`);
  }
  const fact = matches[0];
  if (input.operator !== null) {
    if (fact && fact.slot !== input.operator) {
      return unknown('ERR_BOOTED_SLOT_CONFLICT', `--booted ${input.operator} contradicts the running system (${said()}); every change to the slots is refused`);
    }
    return { known: true, slot: input.operator, source: fact ? `--booted ${input.operator} and ${fact.source}` : `--booted ${input.operator}` };
  }
  if (fact) return { known: true, slot: fact.slot, source: fact.source };
  const elsewhere = input.facts.map((f) => describeRef(f.ref));
  const slotsOf = slots.map((s) => `${s.name}=PARTUUID=${s.partuuid}`).join(', ');
  return unknown(
    'ERR_BOOTED_SLOT_UNKNOWN',
    `cannot tell which slot of ${disk} is running, so every change to its slots is refused: ${input.looked.join('; ')}` +
      `${elsewhere.length > 0 ? `; ${elsewhere.join(', ')} ${elsewhere.length === 1 ? 'is' : 'are'} not among its slots (${slotsOf})` : ''}` +
      '; for a disk image this host did not boot from, say which slot counts as running with --booted SLOT',
  );
}

/** The booted slot, or the error that says why it is not known. */
export function requireBooted(booted: BootedSlot): SlotName {
  if (!booted.known) throw booted.error;
  return booted.slot;
}

export async function findBootedSlot(host: BootedSlotHost, slots: readonly SlotState[], disk: string): Promise<BootedSlot> {
  return resolveBootedSlot(await readBootFacts(host), slots, disk);
}

function unknown(code: 'ERR_BOOTED_SLOT_UNKNOWN' | 'ERR_BOOTED_SLOT_CONFLICT', message: string): BootedSlot {
  return { known: false, error: new SlotError(code, message) };
}
