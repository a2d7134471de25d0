// `slipway slots`: show both slots, their boot flags and recorded dm-verity root hashes; `stage`,
// `mark-good`, `mark-unbootable` and `rollback` change the flags (cgpt's jobs, for operators and tests).

import { parseArgs } from 'node:util';
import { findBootedSlot, requireBooted } from '../slots/booted-slot.ts';
import { guardBootChooser } from '../slots/booted-guard.ts';
import { findBootDisk } from '../slots/boot-disk.ts';
import { isSlotName } from '../slots/boot-chooser.ts';
import { UsageError } from './cli-error.ts';
import type { BootChooser, BootState, SlotName } from '../slots/boot-chooser.ts';
import type { BootedSlot } from '../slots/booted-slot.ts';
import type { CliIo } from './io.ts';
import type { ChooserRequest } from '../slots/open-boot-chooser.ts';
import { openSlotHashStore } from '../slots/open-boot-chooser.ts';
import type { RecordedVerity } from '../slots/slot-hash-store.ts';

export interface SlotsDeps {
  readonly io: CliIo;
  readonly openChooser: (request: ChooserRequest) => BootChooser;
}

export const SLOTS_USAGE = `usage:
  slipway slots [--disk PATH] [--json] [--booted SLOT]
  slipway slots stage SLOT [--tries N] [--disk PATH]
  slipway slots mark-good SLOT [--disk PATH]
  slipway slots mark-unbootable SLOT [--disk PATH]
  slipway slots rollback [--booted SLOT] [--disk PATH]
options common to all:
  --chooser gptprio|grubenv   where the boot flags live (default gptprio)
  --grubenv PATH              the GRUB environment file: the flags (--chooser grubenv) and, with
                              either chooser, each slot's recorded dm-verity root hash
  --sector-size 512|4096      logical sector size of an image file (default: found from the GPT)
SLOT is USR-A or USR-B. Without --disk, the disk holding the booted slot is used. Changes are refused
while the running slot is unknown (give --booted SLOT for a disk image), and when they would stage the
running slot or make it unbootable.`;

const OPTIONS = {
  disk: { type: 'string' },
  json: { type: 'boolean', default: false },
  booted: { type: 'string' },
  tries: { type: 'string', default: '1' },
  chooser: { type: 'string', default: 'gptprio' },
  grubenv: { type: 'string' },
  'sector-size': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runSlots(argv: readonly string[], deps: SlotsDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    deps.io.stdout(`${SLOTS_USAGE}\n`);
    return 0;
  }
  const [action = 'show', slotArg, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}\n${SLOTS_USAGE}`);
  const disk = values.disk ?? (await findBootDisk(deps.io.host));
  const unguarded = deps.openChooser({
    disk,
    kind: parseChooserKind(values.chooser),
    grubenv: values.grubenv,
    sectorSize: values['sector-size'] === undefined ? undefined : parseSectorSize(values['sector-size']),
  });
  const operator = values.booted !== undefined ? parseSlot(values.booted, '--booted') : deps.io.host.bootedSlot;
  const booted = await findBootedSlot({ ...deps.io.host, bootedSlot: operator }, (await unguarded.read()).slots, disk);
  // Every change goes through the guard: refused before the disk is touched when it is not safe.
  const chooser = guardBootChooser(unguarded, booted);

  let state: BootState;
  switch (action) {
    case 'show':
      if (slotArg !== undefined) throw new UsageError(`unexpected argument: ${slotArg}\n${SLOTS_USAGE}`);
      state = await chooser.read();
      break;
    case 'stage':
      state = await chooser.stage(parseSlot(slotArg, 'stage'), parseTries(values.tries));
      break;
    case 'mark-good':
      state = await chooser.markGood(parseSlot(slotArg, 'mark-good'));
      break;
    case 'mark-unbootable':
      state = await chooser.markUnbootable(parseSlot(slotArg, 'mark-unbootable'));
      break;
    case 'rollback':
      state = await chooser.rollback(requireBooted(booted));
      break;
    default:
      throw new UsageError(`unknown slots action "${action}"\n${SLOTS_USAGE}`);
  }
  const bootedSlot = booted.known ? booted.slot : null;
  const note = booted.known ? '' : `running slot: unknown, so changes are refused [${booted.error.code}]\n`;
  const hashes = openSlotHashStore({ grubenv: values.grubenv });
  const verity = hashes === null ? null : await hashes.read();
  deps.io.stdout(values.json ? `${JSON.stringify(slotsJson(state, booted, chooser.kind, verity), null, 2)}\n` : formatSlots(state, bootedSlot, chooser.kind, verity) + note);
  return 0;
}

/** Each slot's recorded root hash; null when no GRUB environment block was given to read them from. */
export type RecordedHashes = Readonly<Record<SlotName, RecordedVerity | null>> | null;

export function slotsJson(state: BootState, booted: BootedSlot, chooser: string, verity: RecordedHashes = null): object {
  return {
    chooser,
    slots: state.slots.map(({ name, partuuid, partition, priority, tries, successful }) => ({ name, partuuid, partition, priority, tries, successful, ...(verity === null ? {} : { verity: verity[name] }) })),
    booted: booted.known ? booted.slot : null,
    bootedFrom: booted.known ? booted.source : null,
    bootedUnknown: booted.known ? null : booted.error.message,
    next: state.next,
    warnings: state.warnings,
  };
}

export function formatSlots(state: BootState, booted: SlotName | null, chooser: string, verity: RecordedHashes = null): string {
  const header = ['', 'SLOT', 'PART', 'PARTUUID', 'PRIORITY', 'TRIES', 'SUCCESSFUL', ''];
  const rows = state.slots.map((slot) => [
    slot.name === booted ? '●' : ' ',
    slot.name,
    String(slot.partition),
    slot.partuuid,
    String(slot.priority),
    String(slot.tries),
    slot.successful ? 'yes' : 'no',
    [slot.name === booted ? 'booted' : '', slot.name === state.next ? 'next boot' : ''].filter(Boolean).join(', '),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]): string => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const footer = state.next === null ? 'no slot is bootable: the bootloader has nothing to choose' : `next boot: ${state.next}`;
  const warnings = state.warnings.map((warning) => `warning: ${warning}`);
  const hashes = verity === null ? [] : state.slots.map(({ name }) => {
    const recorded = verity[name];
    return `${name} root hash: ${recorded === null ? 'none recorded' : `${recorded.rootHash} (tree at byte ${recorded.hashOffset})`}`;
  });
  return `${[`boot chooser: ${chooser}`, line(header), ...rows.map(line), footer, ...hashes, ...warnings].join('\n')}\n`;
}

function parseSlot(value: string | undefined, where: string): SlotName {
  if (value === undefined) throw new UsageError(`${where} needs a slot: USR-A or USR-B`);
  const upper = value.toUpperCase();
  if (!isSlotName(upper)) throw new UsageError(`${where}: "${value}" is not a slot; use USR-A or USR-B`);
  return upper;
}

function parseTries(value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`--tries must be a whole number, got "${value}"`);
  return Number(value);
}

function parseChooserKind(value: string): 'gptprio' | 'grubenv' {
  if (value === 'gptprio' || value === 'grubenv') return value;
  throw new UsageError(`--chooser must be gptprio or grubenv, got "${value}"`);
}

function parseSectorSize(value: string): number {
  if (value === '512' || value === '4096') return Number(value);
  throw new UsageError(`--sector-size must be 512 or 4096, got "${value}"`);
}
