// One contract for every BootChooser: the same operations give the same flags and the same next
// boot, whether the flags live in GPT attribute bits or in the GRUB environment block.

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { GrubenvBootChooser } from '../../agent/slots/grubenv-boot-chooser.ts';
import { writeFile } from 'node:fs/promises';
import { run } from '../builders/coreos-disk.ts';
import { makeSmallSlotsImage, useTempDir } from '../builders/coreos-disk.ts';
import { GRUB_TOOLS, missingTools, SGDISK } from '../builders/require-tools.ts';
import type { BootChooser, BootState } from '../../agent/slots/boot-chooser.ts';

const skip = missingTools({ ...SGDISK, ...GRUB_TOOLS });
const dir = useTempDir(skip);
let counter = 0;

async function freshDisk(): Promise<string> {
  const disk = join(dir(), `disk-${counter++}.img`);
  await makeSmallSlotsImage(disk);
  return disk;
}

const chooserFactories: [string, () => Promise<BootChooser>][] = [
  ['GptBootChooser', async () => {
    const disk = await freshDisk();
    return new GptBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }));
  }],
  ['GrubenvBootChooser', async () => {
    const disk = await freshDisk();
    // The same starting state as the GPT disk: USR-A good, USR-B empty; made by grub-editenv.
    const env = `${disk}.grubenv`;
    await writeFile(env, '');
    await run('grub-editenv', [env, 'create']);
    await run('grub-editenv', [env, 'set', 'ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0']);
    return new GrubenvBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }), env);
  }],
];

const flags = (state: BootState): unknown => ({
  next: state.next,
  slots: state.slots.map(({ name, priority, tries, successful }) => ({ name, priority, tries, successful })),
});

describe.skipIf(skip !== null).each(chooserFactories)(`${skip ?? ''} %s`, (_name, makeChooser) => {
  it('starts with USR-A good and USR-B empty', async () => {
    const chooser = await makeChooser();
    expect(flags(await chooser.read())).toEqual({
      next: 'USR-A',
      slots: [
        { name: 'USR-A', priority: 1, tries: 0, successful: true },
        { name: 'USR-B', priority: 0, tries: 0, successful: false },
      ],
    });
  });

  it('walks an update: unbootable, stage, mark good, roll back', async () => {
    const chooser = await makeChooser();
    expect((await chooser.markUnbootable('USR-B')).next).toBe('USR-A');
    const staged = await chooser.stage('USR-B', 2);
    expect(flags(staged)).toEqual({
      next: 'USR-B',
      slots: [
        { name: 'USR-A', priority: 1, tries: 0, successful: true },
        { name: 'USR-B', priority: 2, tries: 2, successful: false },
      ],
    });
    expect(flags(await chooser.read())).toEqual(flags(staged));
    const good = await chooser.markGood('USR-B');
    expect(flags(good)).toEqual({
      next: 'USR-B',
      slots: [
        { name: 'USR-A', priority: 1, tries: 0, successful: true },
        { name: 'USR-B', priority: 2, tries: 0, successful: true },
      ],
    });
    expect((await chooser.rollback('USR-B')).next).toBe('USR-A');
    expect((await chooser.read()).next).toBe('USR-A');
  });

  it('refuses to roll back to a slot never marked good, and changes nothing', async () => {
    const chooser = await makeChooser();
    await chooser.stage('USR-B', 1);
    const before = await chooser.read();
    await expect(chooser.rollback('USR-A')).rejects.toMatchObject({ code: 'ERR_ROLLBACK_TARGET_NOT_GOOD' });
    expect(await chooser.read()).toEqual(before);
  });

  it('reports the partition identity from the GPT', async () => {
    const state = await (await makeChooser()).read();
    expect(state.slots.map((s) => [s.name, s.partition])).toEqual([['USR-A', 3], ['USR-B', 4]]);
    for (const slot of state.slots) expect(slot.partuuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});
