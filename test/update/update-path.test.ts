// The update path as the agent opens it, on a host where nothing says what booted: with a disk
// configured, the slots are read and every change is refused; with none, there is no disk to find,
// and the path still opens (the agent answers in slot-unknown) with the reason and refuses the same.

import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openUpdatePath } from '../../agent/wiring/update-path.ts';
import { HOST_FILES } from '../../agent/wiring/host-files.ts';
import { makeCoreosImage, useTempDir } from '../builders/coreos-disk.ts';
import { writeHostFixture } from '../builders/host-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { UpdatePathRequest } from '../../agent/wiring/update-path.ts';

const skip = missingTools(SGDISK);
const dir = useTempDir(skip);

async function open(disk: string | null, cmdline = 'ro quiet') {
  const host = await writeHostFixture(join(dir(), `host-${disk === null ? 'none' : 'disk'}`), { cmdline });
  const osRelease = join(dir(), 'os-release');
  await writeFile(osRelease, 'VERSION_ID=1.0.0\n');
  const request: UpdatePathRequest = { servers: ['http://127.0.0.1:9'], channel: 'stable', arch: 'x86_64', board: 'qemu', keyring: join(dir(), 'absent.asc'), stateDir: join(dir(), 'state'), tries: 1, minRateBytesPerSecond: 4096, rateWindowSeconds: 60, maxClockSkewSeconds: 86_400, disk, chooser: 'gptprio', grubenv: null };
  const files = { ...HOST_FILES, ...host, osRelease: [osRelease], devRoot: join(dir(), 'dev') };
  return openUpdatePath(request, { files, clock: new TestClock('2026-12-03T00:00:00Z'), random: () => 0.5, proxy: null, machineId: () => Promise.resolve('5f0c1e7a9b2d4c3e8f1000000000002a'), log: () => undefined });
}

describe.skipIf(skip !== null)(`${skip ?? ''} openUpdatePath with the running slot unknown`, () => {
  it('a configured disk: slots readable, every change refused, nothing written', async () => {
    const disk = join(dir(), 'disk.img');
    await makeCoreosImage(disk);
    const before = await readFile(disk);
    const path = await open(disk);
    expect(path.booted).toMatchObject({ slot: { known: false, error: { code: 'ERR_BOOTED_SLOT_UNKNOWN' } }, version: '1.0.0' });
    expect((await path.chooser.read()).slots.map((s) => s.name)).toEqual(['USR-A', 'USR-B']);
    await expect(path.chooser.markUnbootable('USR-B')).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    await expect(path.chooser.markGood('USR-A')).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    await expect(path.load()).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    expect(Buffer.compare(await readFile(disk), before)).toBe(0);
  });

  it('no disk configured and none to find: opens with the reason, refuses every change', async () => {
    const path = await open(null);
    expect(path.booted.slot).toMatchObject({ known: false, error: { code: 'ERR_BOOTED_SLOT_UNKNOWN', message: expect.stringContaining('cannot find the disk the running system booted from') as unknown } });
    expect(await path.chooser.read()).toEqual({ slots: [], next: null, warnings: [expect.stringContaining('cmdline: no mount.usr=') as unknown] });
    await expect(path.chooser.stage('USR-B', 1)).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
    await expect(path.load()).rejects.toMatchObject({ code: 'ERR_BOOTED_SLOT_UNKNOWN' });
  });
});
