// SlotHashStore adapter on a GRUB environment block: each slot's root hash and hash offset as
// A_VERITY/A_VERITY_OFFSET and B_VERITY/B_VERITY_OFFSET, fixed width, rewritten in place. The grubenv
// chooser's own block (beside the flags GRUB reads anyway), or for gptprio a block on the ESP.

import type { FileHandle } from 'node:fs/promises';
import { parseGrubenv } from '../../platform/grub/grubenv-block.ts';
import { canonicalState, fixedLayoutBlock } from '../../platform/grub/grubenv-flags.ts';
import { canonicalVerityValue, readVerity, VERITY_KEYS, verityKeys, verityValues } from '../../platform/grub/grubenv-verity.ts';
import { layoutProblems, openGrubenv, stateFromVariables } from './grubenv-boot-chooser.ts';
import { SlotError } from './slot-errors.ts';
import type { EnvVariable } from '../../platform/grub/grubenv-block.ts';
import type { SlotName } from './boot-chooser.ts';
import type { RecordedVerity, SlotHashStore } from './slot-hash-store.ts';

const letterOf = (slot: SlotName): 'A' | 'B' => (slot === 'USR-A' ? 'A' : 'B');

export class GrubenvSlotHashStore implements SlotHashStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<Record<SlotName, RecordedVerity | null>> {
    const handle = await this.open('r');
    try {
      return recordedOf(parseGrubenv(await readBlock(handle, this.path), this.path));
    } finally {
      await handle.close();
    }
  }

  /**
   * A block without the verity values (written before them) is first rewritten whole in the fixed
   * layout: the flags keep their offsets and bytes, so a cut inside that write cannot change what
   * GRUB boots. Then the two values in place, each flushed: recording writes the offset before the
   * hash, clearing the hash before the offset, so a cut between them reads as none.
   */
  async write(slot: SlotName, verity: RecordedVerity | null): Promise<void> {
    const handle = await this.open('r+');
    try {
      let variables = parseGrubenv(await readBlock(handle, this.path), this.path);
      if (layoutProblems(variables).length > 0 || verityLayoutProblems(variables).length > 0) {
        const block = fixedLayoutBlock(canonicalState(stateFromVariables(variables)), variables, this.path);
        await writeAt(handle, 0, block, this.path);
        variables = parseGrubenv(block, this.path);
      }
      const keys = verityKeys(letterOf(slot));
      const values = verityValues(verity);
      const writes = verity === null ? [[keys.hash, values.hash] as const, [keys.offset, values.offset] as const] : [[keys.offset, values.offset] as const, [keys.hash, values.hash] as const];
      for (const [key, value] of writes) {
        const at = variables.find((v) => v.name === key)?.offset;
        if (at === undefined) throw new SlotError('ERR_GRUBENV_INVALID', `${key} is missing from the fixed layout of ${this.path}`);
        await writeAt(handle, at, Buffer.from(value, 'latin1'), this.path);
      }
      const written = recordedOf(parseGrubenv(await readBlock(handle, this.path), this.path))[slot];
      if (JSON.stringify(written) !== JSON.stringify(verity === null ? null : { rootHash: verity.rootHash, hashOffset: verity.hashOffset })) {
        throw new SlotError('ERR_DEVICE_IO', `the GRUB environment ${this.path} reads back ${JSON.stringify(written)} for ${slot}'s root hash after writing ${JSON.stringify(verity)}`);
      }
    } finally {
      await handle.close();
    }
  }

  private open(flags: 'r' | 'r+'): Promise<FileHandle> {
    return openGrubenv(this.path, flags);
  }
}

/**
 * Why the verity values are not in the fixed layout: each once, at its width, canonical. The boot
 * flags' own layout (layoutProblems) does not ask for them, so a flags change never rewrites a
 * block for their sake; recording a hash does, once.
 */
export function verityLayoutProblems(variables: readonly EnvVariable[]): string[] {
  return VERITY_KEYS.flatMap((key) => {
    const found = variables.filter((v) => v.name === key);
    const raw = found[0]?.raw;
    if (raw === undefined) return [`no ${key}`];
    if (found.length > 1) return [`${key} set ${found.length} times`];
    return canonicalVerityValue(key, raw) ? [] : [`${key}=${JSON.stringify(raw)}`];
  });
}

/** What the block records per slot, as GRUB's load_env sees it (the last of duplicates wins). */
export function recordedOf(variables: readonly EnvVariable[]): Record<SlotName, RecordedVerity | null> {
  const value = (name: string): string | undefined => variables.findLast((v) => v.name === name)?.value;
  const of = (letter: 'A' | 'B'): RecordedVerity | null => readVerity(value(verityKeys(letter).hash), value(verityKeys(letter).offset));
  return { 'USR-A': of('A'), 'USR-B': of('B') };
}

async function readBlock(handle: FileHandle, path: string): Promise<Uint8Array> {
  try {
    const { size } = await handle.stat();
    const bytes = Buffer.alloc(size);
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

async function writeAt(handle: FileHandle, offset: number, data: Uint8Array, path: string): Promise<void> {
  try {
    for (let done = 0; done < data.length; ) {
      const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    await handle.sync();
  } catch (cause) {
    throw new SlotError('ERR_DEVICE_IO', `failed to update the GRUB environment ${path}`, { cause });
  }
}
