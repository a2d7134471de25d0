// Power cut inside a GPT update: cut after every write call and at byte offsets inside each write
// (every sector boundary, the bytes around them, and seeded random offsets); every cut must read as
// exactly the old or the new state, and the next read-with-repair must leave both copies valid.

import { beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GptBootChooser } from '../../agent/slots/gpt-boot-chooser.ts';
import { readGpt } from '../../agent/slots/gpt-disk.ts';
import { MemoryBlockDevice, tornImage } from '../fakes/memory-block-device.ts';
import { makeSmallSlotsImage, tempDir } from '../builders/coreos-disk.ts';
import type { BootChooser, BootState } from '../../agent/slots/boot-chooser.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';

const skip = missingTools(SGDISK);

let pristine: Uint8Array;
beforeAll(async () => {
  if (skip !== null) return;
  const dir = await tempDir();
  const path = join(dir.path, 'disk.img');
  await makeSmallSlotsImage(path);
  pristine = await readFile(path);
  await dir.remove();
});

function chooserOn(bytes: Uint8Array): { chooser: GptBootChooser; devices: MemoryBlockDevice[] } {
  const devices: MemoryBlockDevice[] = [];
  const chooser = new GptBootChooser(() => {
    const device = new MemoryBlockDevice(bytes);
    devices.push(device);
    return Promise.resolve(device);
  });
  return { chooser, devices };
}

/** A small deterministic generator so a failure names a reproducible offset. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function cutPoints(length: number, sector: number, random: () => number): number[] {
  const points = new Set<number>([0, 1, length - 1]);
  for (let at = sector; at < length; at += sector) [at - 1, at, at + 1].forEach((p) => points.add(p));
  for (let i = 0; i < 64; i++) points.add(Math.floor(random() * length));
  return [...points].filter((p) => p >= 0 && p < length).sort((a, b) => a - b);
}

const flags = (state: BootState): string => JSON.stringify(state.slots.map(({ name, priority, tries, successful }) => ({ name, priority, tries, successful })));

const operations: [string, (c: BootChooser) => Promise<unknown>, (c: BootChooser) => Promise<BootState>][] = [
  ['stage USR-B', async () => {}, (c) => c.stage('USR-B', 2)],
  ['mark USR-B good', (c) => c.stage('USR-B', 1), (c) => c.markGood('USR-B')],
  ['mark USR-A unbootable', (c) => c.markGood('USR-B').then(() => c.markGood('USR-A')), (c) => c.markUnbootable('USR-A')],
  ['roll back to USR-A', (c) => c.stage('USR-B', 1).then(() => c.markGood('USR-B')), (c) => c.rollback('USR-B')],
];

describe.skipIf(skip !== null).each(operations)(`${skip ?? ''} cut inside "%s"`, (_name, prepare, operation) => {
  it('always reads as the old or the new state, and repairs to a clean table', async () => {
    const base = Uint8Array.from(pristine);
    await prepare(chooserOn(base).chooser);
    const before = flags(await chooserOn(base).chooser.read());

    const working = Uint8Array.from(base);
    const { chooser, devices } = chooserOn(working);
    const after = flags(await operation(chooser));
    expect(after).not.toBe(before);
    const writes = devices.flatMap((d) => d.writes());
    expect(writes.length).toBe(4);

    const random = seeded(0x5eed);
    let cuts = 0;
    for (let whole = 0; whole <= writes.length; whole++) {
      const partials = whole < writes.length ? cutPoints(writes[whole]?.data.length ?? 0, 512, random) : [0];
      for (const partial of partials) {
        const image = tornImage(base, writes, whole, partial);
        const seen = flags(await chooserOn(image).chooser.read());
        expect([before, after], `cut after ${whole} writes + ${partial} bytes`).toContain(seen);

        const repairDevice = new MemoryBlockDevice(image);
        await readGpt(repairDevice, { repair: true });
        const check = await readGpt(new MemoryBlockDevice(image), { repair: false });
        expect(check.damaged, `repair after cut ${whole}+${partial}`).toBeNull();
        expect(flags(await chooserOn(image).chooser.read())).toBe(seen);
        cuts++;
      }
    }
    expect(cuts).toBeGreaterThan(100);
  });

  it('flushes between the primary and the backup copy', async () => {
    const base = Uint8Array.from(pristine);
    await prepare(chooserOn(base).chooser);
    const { chooser, devices } = chooserOn(base);
    await operation(chooser);
    const kinds = devices.flatMap((d) => d.events).map((e) => (e.kind === 'write' ? `write@${e.offset < base.length / 2 ? 'primary' : 'backup'}` : 'sync'));
    expect(kinds).toEqual(['write@primary', 'write@primary', 'sync', 'write@backup', 'write@backup', 'sync']);
  });
});
