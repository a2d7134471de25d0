// Builds CoreOS-layout test disks with the real sgdisk: image files, or loop devices when a test
// needs 4096-byte sectors (sgdisk reads the sector size from the block device).

import { execFile } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';

const execFileAsync = promisify(execFile);
/** Runs a tool with sbin on the PATH: sgdisk and losetup live there and a non-login shell may lack it. */
export const run = (command: string, args: string[]): Promise<{ stdout: string; stderr: string }> =>
  execFileAsync(command, args, { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
export const USR_TYPE = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';

export interface SlotAttributes {
  readonly priority: number;
  readonly tries: number;
  readonly successful: boolean;
}

/** sgdisk -A arguments that set exactly these flag bits on partition `n`. */
export function attributeArgs(partition: number, flags: SlotAttributes): string[] {
  const bits = [
    ...[0, 1, 2, 3].filter((b) => (flags.priority >> b) & 1).map((b) => 48 + b),
    ...[0, 1, 2, 3].filter((b) => (flags.tries >> b) & 1).map((b) => 52 + b),
    ...(flags.successful ? [56] : []),
  ];
  return bits.flatMap((bit) => ['-A', `${partition}:set:${bit}`]);
}

/** CoreOS numbering: 1 EFI-SYSTEM, 2 BIOS-BOOT, 3 USR-A, 4 USR-B, 6 OEM, 9 ROOT. Sizes in sectors scale with the sector size. */
export function coreosLayoutArgs(sectorSize: number, a: SlotAttributes, b: SlotAttributes): string[] {
  const mib = (n: number): number => (n * 1024 * 1024) / sectorSize;
  const start = mib(1);
  const parts: [number, number, string, string][] = [
    [1, mib(4), 'ef00', 'EFI-SYSTEM'],
    [2, mib(1), '21686148-6449-6e6f-744e-656564454649', 'BIOS-BOOT'],
    [3, mib(8), USR_TYPE, 'USR-A'],
    [4, mib(8), USR_TYPE, 'USR-B'],
    [6, mib(2), '0fc63daf-8483-4772-8e79-3d69d8477de4', 'OEM'],
  ];
  const args = ['-o'];
  let at = start;
  for (const [n, size, type, name] of parts) {
    args.push('-n', `${n}:${at}:${at + size - 1}`, '-t', `${n}:${type}`, '-c', `${n}:${name}`);
    at += size;
  }
  args.push('-n', '9:0:0', '-t', '9:3884dd41-8582-4404-b9a8-e9b84f2df50e', '-c', '9:ROOT');
  return [...args, ...attributeArgs(3, a), ...attributeArgs(4, b)];
}

export interface TempDir {
  readonly path: string;
  remove: () => Promise<void>;
}

/** A temporary directory made before a test file's tests and removed after them; none when skipped. */
export function useTempDir(skip: string | null): () => string {
  let dir: TempDir | null = null;
  beforeAll(async () => {
    if (skip === null) dir = await tempDir();
  });
  afterAll(async () => {
    await dir?.remove();
  });
  return () => {
    if (!dir) throw new Error('the temporary directory exists only while the tests run');
    return dir.path;
  };
}

export async function tempDir(prefix = 'slipway-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export const GOOD_A: SlotAttributes = { priority: 1, tries: 0, successful: true };
export const EMPTY_B: SlotAttributes = { priority: 0, tries: 0, successful: false };

/** A 40 MiB sparse image file with the CoreOS layout, made by sgdisk (512-byte sectors). */
export async function makeCoreosImage(path: string, a: SlotAttributes = GOOD_A, b: SlotAttributes = EMPTY_B): Promise<void> {
  await writeFile(path, '');
  await truncate(path, 40 * 1024 * 1024);
  await run('sgdisk', [...coreosLayoutArgs(512, a, b), path]);
}

/** Attaches `image` as a loop device with the given logical sector size; detach when done. */
export async function attachLoop(image: string, sectorSize: number): Promise<{ device: string; detach: () => Promise<void> }> {
  const { stdout } = await run('losetup', ['--find', '--show', '--sector-size', String(sectorSize), image]);
  const device = stdout.trim();
  return { device, detach: async () => void (await run('losetup', ['--detach', device])) };
}

/** A 4 MiB image with just USR-A (3) and USR-B (4), for tests that copy the disk many times. */
export async function makeSmallSlotsImage(path: string, a: SlotAttributes = GOOD_A, b: SlotAttributes = EMPTY_B): Promise<void> {
  await writeFile(path, '');
  await truncate(path, 4 * 1024 * 1024);
  const slots = ['-n', '3:2048:+1M', '-t', `3:${USR_TYPE}`, '-c', '3:USR-A', '-n', '4:0:+1M', '-t', `4:${USR_TYPE}`, '-c', '4:USR-B'];
  await run('sgdisk', ['-o', ...slots, ...attributeArgs(3, a), ...attributeArgs(4, b), path]);
}
