// BootChooser adapter for stock GRUB: flags in the GRUB environment file on the ESP, rewritten in
// place (GRUB's save_env writes through the file's existing blocks, so it is never replaced); slot
// identity from the GPT, read only.

import { InternalError } from '../../platform/internal-error.ts';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { readGpt } from './gpt-disk.ts';
import { bootStateOf, gptWarnings, slotStates } from './gpt-boot-chooser.ts';
import { parseGrubenv } from '../../platform/grub/grubenv-block.ts';
import { fromRuleSlots, toRuleSlots } from './grubenv-state.ts';
import { CANONICAL, canonicalState, DEFAULT_STATE, fixedLayoutBlock, MAX_GRUBENV_TRIES, STATE_KEYS, VALUE_WIDTH } from '../../platform/grub/grubenv-flags.ts';
import { planWrites } from './grubenv-write-plan.ts';
import { RuleBootChooser } from './rule-boot-chooser.ts';
import { SlotError } from './slot-errors.ts';
import type { OpenDevice } from './gpt-boot-chooser.ts';
import type { BootState, SlotName, SlotState } from './boot-chooser.ts';
import type { SlotRule } from './rule-boot-chooser.ts';
import type { EnvVariable } from '../../platform/grub/grubenv-block.ts';
import type { GrubenvState } from '../../platform/grub/grubenv-flags.ts';

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
    const handle = await this.openEnv('r');
    try {
      const variables = parseGrubenv(await readWhole(handle, this.envPath), this.envPath);
      const { slots, warnings } = await this.slotsWith(canonicalState(stateFromVariables(variables)));
      const problems = layoutProblems(variables);
      if (problems.length > 0) {
        warnings.push(`${this.envPath} is not in slipway's fixed layout (${problems.join('; ')}); the next change rewrites it once`);
      }
      return bootStateOf(slots, warnings);
    } finally {
      await handle.close();
    }
  }

  override stage(slot: SlotName, tries: number): Promise<BootState> {
    if (tries > MAX_GRUBENV_TRIES) {
      return Promise.reject(
        new SlotError('ERR_TRIES_OUT_OF_RANGE', `the GRUB environment ${this.envPath} holds at most ${MAX_GRUBENV_TRIES} tries (one digit), got ${tries}`),
      );
    }
    return super.stage(slot, tries);
  }

  /** Read, apply the pure rule, write each changed value in place in the planned order, verify. */
  protected async change(rule: SlotRule): Promise<BootState> {
    const path = this.envPath;
    const handle = await this.openEnv('r+');
    try {
      const variables = parseGrubenv(await readWhole(handle, path), path);
      const state = canonicalState(stateFromVariables(variables));
      // The GPT is read first so a disk without its two slots fails before anything is written.
      const { slots, warnings } = await this.slotsWith(state);
      const target = fromRuleSlots(rule(slots));
      const problems = layoutProblems(variables);
      if (problems.length > 0) warnings.push(`rewrote ${path} in slipway's fixed layout (${problems.join('; ')})`);
      const writes = blockWrites(variables, state, target, path);
      try {
        for (const write of writes) {
          await writeAt(handle, write);
          await handle.sync();
        }
      } catch (cause) {
        throw new SlotError('ERR_DEVICE_IO', `failed to update the GRUB environment ${path}`, { cause });
      }
      const written = canonicalState(stateFromVariables(parseGrubenv(await readWhole(handle, path), path)));
      if (STATE_KEYS.some((key) => written[key] !== target[key])) {
        throw new SlotError('ERR_DEVICE_IO', `the GRUB environment ${path} reads back ${JSON.stringify(written)} after writing ${JSON.stringify(target)}`);
      }
      return bootStateOf(slotsOf(slots, target), warnings);
    } finally {
      await handle.close();
    }
  }

  private openEnv(flags: 'r' | 'r+'): Promise<FileHandle> {
    return openGrubenv(this.envPath, flags);
  }

  /** The slots as the GPT names them, with the flags of `state`. */
  private async slotsWith(state: GrubenvState): Promise<{ slots: SlotState[]; warnings: string[] }> {
    const device = await this.openDevice({ writable: false });
    try {
      const gpt = await readGpt(device, { repair: false });
      return { slots: slotsOf(slotStates(gpt.table.entries, device.path), state), warnings: gptWarnings(device.path, gpt) };
    } finally {
      await device.close();
    }
  }
}

function slotsOf(identity: readonly SlotState[], state: GrubenvState): SlotState[] {
  const flags = toRuleSlots(state);
  return identity.map((slot) => ({ ...slot, ...flags.find((f) => f.name === slot.name), name: slot.name }));
}

async function readWhole(handle: FileHandle, path: string): Promise<Uint8Array> {
  try {
    const { size } = await handle.stat();
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return bytes.subarray(0, done);
  } catch (cause) {
    throw new SlotError('ERR_DEVICE_IO', `failed to read the GRUB environment ${path}`, { cause });
  }
}

async function writeAt(handle: FileHandle, write: BlockWrite): Promise<void> {
  let done = 0;
  while (done < write.data.length) {
    const { bytesWritten } = await handle.write(write.data, done, write.data.length - done, write.offset + done);
    done += bytesWritten;
  }
}

/** Our five variables as GRUB's load_env sees them: the last of duplicates wins, a missing one keeps the script's default. */
export function stateFromVariables(variables: readonly EnvVariable[]): GrubenvState {
  const state = { ...DEFAULT_STATE };
  for (const key of STATE_KEYS) {
    const found = variables.findLast((v) => v.name === key);
    if (found) state[key] = found.value;
  }
  return state;
}

/** Why a block is not in the fixed layout: each of our variables once, unescaped, at its fixed width, with a canonical value. */
export function layoutProblems(variables: readonly EnvVariable[]): string[] {
  return STATE_KEYS.flatMap((key) => {
    const found = variables.filter((v) => v.name === key);
    const raw = found[0]?.raw;
    if (raw === undefined) return [`no ${key}`];
    if (found.length > 1) return [`${key} set ${found.length} times`];
    if (raw.length !== VALUE_WIDTH[key] || !CANONICAL[key].test(raw)) return [`${key}=${JSON.stringify(raw)}`];
    return [];
  });
}

export interface BlockWrite {
  readonly offset: number;
  readonly data: Uint8Array;
}

/**
 * The writes, each to be followed by an fsync, that take the file from `state` to `target` (both
 * canonical): first, only for a file not in the fixed layout (made by hand), the whole block once
 * with the old state, which is not crash-safe; then one write per changed value in the order from
 * planWrites, which is. Comment lines are dropped by that conversion; other variables are kept.
 */
export function blockWrites(variables: readonly EnvVariable[], state: GrubenvState, target: GrubenvState, path: string): BlockWrite[] {
  const writes: BlockWrite[] = [];
  let layout = variables;
  if (layoutProblems(variables).length > 0) {
    const block = fixedLayoutBlock(state, variables, path);
    writes.push({ offset: 0, data: block });
    layout = parseGrubenv(block, path);
  }
  for (const write of planWrites(state, target)) {
    const variable = layout.find((v) => v.name === write.key);
    if (!variable) throw new InternalError(`${write.key} is missing from the fixed layout of ${path}`);
    writes.push({ offset: variable.offset, data: Buffer.from(write.value, 'latin1') });
  }
  return writes;
}

/** Opens the GRUB environment file, a failure as ERR_DEVICE_IO naming it: the chooser's and the hash store's. */
export async function openGrubenv(path: string, flags: 'r' | 'r+'): Promise<FileHandle> {
  try {
    return await open(path, flags);
  } catch (cause) {
    throw new SlotError('ERR_DEVICE_IO', `failed to open the GRUB environment ${path}${flags === 'r+' ? ' for writing' : ''}`, { cause });
  }
}
