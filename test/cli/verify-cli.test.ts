// `slipway slots` shows each slot's recorded root hash, and `slipway verify [SLOT]` checks a slot of a
// real GPT disk image (sgdisk) against it offline: 0 when it verifies, 6 with the first bad block when
// a byte of its data or its tree is flipped, 5 when no hash is recorded.

import { beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appendVerityTree } from '../../images/verity-image.ts';
import { GrubenvSlotHashStore } from '../../agent/slots/grubenv-hash-store.ts';
import { DEFAULT_STATE, fixedLayoutBlock } from '../../platform/grub/grubenv-flags.ts';
import { makeCoreosImage, useTempDir } from '../builders/coreos-disk.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { VerityDescription } from '../../images/verity-image.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);
const MiB = 1024 * 1024;
const SLOT_B = (1 + 4 + 1 + 8) * MiB;
let disk: string;
let env: string;
let verity: VerityDescription;
let counter = 0;

async function flip(at: number): Promise<void> {
  const handle = await open(disk, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = (byte[0] ?? 0) ^ 0x10;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

beforeEach(async () => {
  if (skip !== null) return;
  disk = join(dir(), `disk-${counter}.img`);
  env = join(dir(), `grubenv-${counter}`);
  const image = join(dir(), `slot-${counter++}.img`);
  await makeCoreosImage(disk);
  await writeFile(env, fixedLayoutBlock({ ...DEFAULT_STATE, A_OK: '1' }, [], env));
  await writeFile(image, randomBytes(1000 * 4096));
  verity = await appendVerityTree(image);
  // Slot B holds the image, as the update path writes it.
  const handle = await open(disk, 'r+');
  try {
    await handle.write(await readFile(image), 0, undefined, SLOT_B);
  } finally {
    await handle.close();
  }
  await new GrubenvSlotHashStore(env).write('USR-B', { rootHash: verity.rootHash, hashOffset: verity.hashOffset });
});

const verify = (...args: string[]) => runSlipway(['verify', '--disk', disk, '--grubenv', env, ...args]);

describe.skipIf(skip !== null)(`${skip ?? ''} slipway slots and verify with root hashes`, () => {
  it('slots shows each slot\'s recorded root hash, in text and JSON', async () => {
    const json = await runSlipway(['slots', '--disk', disk, '--grubenv', env, '--booted', 'USR-A', '--json']);
    expect(json.code).toBe(0);
    const shown = JSON.parse(json.stdout) as { slots: { name: string; verity: unknown }[] };
    expect(shown.slots.map((s) => [s.name, s.verity])).toEqual([['USR-A', null], ['USR-B', { rootHash: verity.rootHash, hashOffset: 1000 * 4096 }]]);
    const text = await runSlipway(['slots', '--disk', disk, '--grubenv', env, '--booted', 'USR-A']);
    expect(text.stdout).toContain('USR-A root hash: none recorded\n');
    expect(text.stdout).toContain(`USR-B root hash: ${verity.rootHash} (tree at byte ${1000 * 4096})\n`);
  });

  it('verify: a slot that matches its recorded hash exits 0', async () => {
    const result = await verify('USR-B');
    expect(result.stdout).toBe(`USR-B verifies against its recorded root hash ${verity.rootHash} (1000 data blocks)\n`);
    expect(result.code).toBe(0);
    // Without SLOT: the running slot.
    expect((await verify('--booted', 'USR-B')).code).toBe(0);
  });

  it('verify: a flipped byte in the data names the first bad data block and exits 6', async () => {
    await flip(SLOT_B + 700 * 4096 + 9);
    await flip(SLOT_B + 800 * 4096);
    const result = await verify('USR-B');
    expect(result.code).toBe(6);
    expect(result.stdout).toContain(`first bad data block: 700 (byte ${700 * 4096} of USR-B)`);
    const json = JSON.parse((await verify('USR-B', '--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ slot: 'USR-B', ok: false, problem: 'data', block: 700, offset: 700 * 4096 });
  });

  it('verify: a flipped byte in the tree names the hash block and exits 6', async () => {
    // Level 0 starts after the superblock's block and the top block (1000 blocks: 8 + 1 hash blocks).
    await flip(SLOT_B + verity.hashOffset + 2 * 4096 + 100);
    const result = await verify('USR-B');
    expect(result.code).toBe(6);
    expect(result.stdout).toContain('hash block 0 of level 0');
    expect(result.stdout).toContain(`first bad hash block: 2 (byte ${verity.hashOffset + 2 * 4096} of USR-B)`);
  });

  it('verify: a slot with no recorded hash exits 5 and says so', async () => {
    const result = await verify('USR-A');
    expect(result.code).toBe(5);
    expect(result.stdout).toBe(`no dm-verity root hash is recorded for USR-A in ${env}: nothing to check it against\n`);
  });
});
