// BootChooser adapter for stock GRUB: flags in the GRUB environment file on the ESP, rewritten in
// place (GRUB's save_env writes through the file's existing blocks, so it is never replaced); slot
// identity from the GPT, read only.

import { open, readFile } from 'node:fs/promises';
import { readGpt } from './gpt-disk.ts';
import { bootStateOf, gptWarnings, slotStates } from './gpt-boot-chooser.ts';
import { parseGrubenv, serializeGrubenv } from './grubenv-block.ts';
import { DEFAULT_STATE, fromRuleSlots, MAX_GRUBENV_TRIES, STATE_KEYS, toRuleSlots, VALUE_WIDTH } from './grubenv-state.ts';
import { planWrites } from './grubenv-write-plan.ts';
import { RuleBootChooser } from './rule-boot-chooser.ts';
import { SlotError } from './slot-errors.ts';
import type { OpenDevice } from './gpt-boot-chooser.ts';
import type { BootState, SlotName, SlotState } from './boot-chooser.ts';
import type { SlotRule } from './rule-boot-chooser.ts';
import type { EnvVariable } from './grubenv-block.ts';
import type { GrubenvState } from './grubenv-state.ts';

export class GrubenvBootChooser extends RuleBootChooser {
  readonly kind = 'grubenv';
  private readonly openDevice: OpenDevice;
  private readonly envPath: string;

  constructor(openDevice: OpenDevice, envPath: string) {
    super();
    this.openDevice = openDevice;
    this.envPath = envPath;
  }

  async read(): Promise<BootState> {
    const { state } = await this.readEnv();
    return this.describe(state);
  }

  override stage(slot: SlotName, tries: number): Promise<BootState> {
    if (tries > MAX_GRUBENV_TRIES) {
      return Promise.reject(new SlotError('ERR_TRIES_OUT_OF_RANGE', `the GRUB environment holds at most ${MAX_GRUBENV_TRIES} tries, got ${tries}`));
    }
    return super.stage(slot, tries);
  }

  private async readEnv(): Promise<{ variables: EnvVariable[]; state: GrubenvState }> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.envPath);
    } catch (cause) {
      throw new SlotError('ERR_DEVICE_IO', `failed to read the GRUB environment ${this.envPath}`, { cause });
    }
    const variables = parseGrubenv(bytes, this.envPath);
    return { variables, state: stateFromVariables(variables) };
  }

  private async describe(state: GrubenvState): Promise<BootState> {
    const device = await this.openDevice({ writable: false });
    let identity: SlotState[];
    let warnings: string[];
    try {
      const gpt = await readGpt(device, { repair: false });
      identity = slotStates(gpt.table.entries, device.path);
      warnings = gptWarnings(device.path, gpt);
    } finally {
      await device.close();
    }
    const flags = toRuleSlots(state);
    return bootStateOf(identity.map((slot) => ({ ...slot, ...flags.find((f) => f.name === slot.name) })), warnings);
  }

  protected async change(rule: SlotRule): Promise<BootState> {
    const { variables, state } = await this.readEnv();
    await this.describe(state); // the disk must have its two slots before anything is written
    const target = fromRuleSlots(rule(toRuleSlots(state)));
    const writes = blockWrites(variables, state, target, this.envPath);
    const handle = await open(this.envPath, 'r+').catch((cause: unknown) => {
      throw new SlotError('ERR_DEVICE_IO', `failed to open ${this.envPath} for writing`, { cause });
    });
    try {
      for (const write of writes) {
        await handle.write(write.data, 0, write.data.length, write.offset);
        await handle.sync();
      }
    } catch (cause) {
      throw new SlotError('ERR_DEVICE_IO', `failed to update ${this.envPath}`, { cause });
    } finally {
      await handle.close();
    }
    return this.describe(target);
  }
}

/** Our five variables from a parsed block; a missing one takes GRUB script's default. */
export function stateFromVariables(variables: readonly EnvVariable[]): GrubenvState {
  const state = { ...DEFAULT_STATE };
  for (const key of STATE_KEYS) {
    const found = variables.find((v) => v.name === key);
    if (found) state[key] = found.raw;
  }
  return state;
}

export interface BlockWrite {
  readonly offset: number;
  readonly data: Uint8Array;
}

/**
 * The writes, each followed by an fsync, that take the file from `state` to `target`: first, only
 * for a file made by hand, the whole block once in the fixed layout with the old values; then one
 * write per changed value in the crash-safe order from planWrites.
 */
export function blockWrites(variables: readonly EnvVariable[], state: GrubenvState, target: GrubenvState, path: string): BlockWrite[] {
  const writes: BlockWrite[] = [];
  let layout = variables;
  if (!hasFixedLayout(variables)) {
    const others = variables.filter((v) => !(STATE_KEYS as readonly string[]).includes(v.name));
    const block = serializeGrubenv([...STATE_KEYS.map((key) => ({ name: key, raw: state[key] })), ...others], path);
    writes.push({ offset: 0, data: block });
    layout = parseGrubenv(block, path);
  }
  for (const write of planWrites(state, target)) {
    const variable = layout.find((v) => v.name === write.key);
    if (!variable) throw new Error(`unreachable: ${write.key} missing from the fixed layout`);
    writes.push({ offset: variable.offset, data: Buffer.from(write.value, 'latin1') });
  }
  return writes;
}

function hasFixedLayout(variables: readonly EnvVariable[]): boolean {
  return STATE_KEYS.every((key) => {
    const found = variables.filter((v) => v.name === key);
    return found.length === 1 && found[0]?.raw.length === VALUE_WIDTH[key];
  });
}
