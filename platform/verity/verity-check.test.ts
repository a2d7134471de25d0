// The streaming check against trees veritysetup made: it accepts them, and names the first bad thing
// when a byte of the data, of a hash level, of the top block or of the superblock is flipped.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkVerity, verityAreaSize } from './verity-check.ts';
import { VERITY_BLOCK } from './verity-tree.ts';
import { missingTools } from '../../test/builders/require-tools.ts';
import type { ReadAt } from './verity-check.ts';

const exec = promisify(execFile);
const skip = missingTools({ veritysetup: 'cryptsetup-bin' });
const SALT = '5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed0001';

function reader(bytes: Buffer): ReadAt {
  return (offset, into) => {
    bytes.copy(into, 0, offset, offset + into.length);
    return Promise.resolve();
  };
}

describe.skipIf(skip !== null)(`${skip ?? ''} checkVerity against veritysetup's trees`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-verity-check-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `blocks` of random data with veritysetup's tree right after them, in one file. */
  async function imageOf(blocks: number): Promise<{ bytes: Buffer; root: string; dataSize: number }> {
    const path = join(dir, `image-${blocks}`);
    const dataSize = blocks * VERITY_BLOCK;
    await writeFile(path, randomBytes(dataSize));
    const { stdout } = await exec('veritysetup', ['format', path, path, `--hash-offset=${dataSize}`, `--salt=${SALT}`]);
    const root = /Root hash:\s+([0-9a-f]{64})/.exec(stdout)?.[1] ?? '';
    const bytes = await readFile(path);
    expect(bytes.length).toBe(dataSize + verityAreaSize(dataSize));
    return { bytes, root, dataSize };
  }

  it.each([1, 128, 129, 128 * 128 + 1])('accepts %i data blocks with the trusted root', async (blocks) => {
    const { bytes, root, dataSize } = await imageOf(blocks);
    expect(await checkVerity(reader(bytes), { rootHash: root, hashOffset: dataSize, dataSize, salt: SALT })).toEqual({ ok: true, dataBlocks: blocks, salt: SALT });
  });

  it('names the first bad data block, the bad hash block, the top and the superblock', async () => {
    const blocks = 128 * 128 + 1; // three levels: 129, 2 and 1 blocks
    const { bytes, root, dataSize } = await imageOf(blocks);
    const check = (spoilt: Buffer, expected: Partial<Parameters<typeof checkVerity>[1]> = {}): ReturnType<typeof checkVerity> =>
      checkVerity(reader(spoilt), { rootHash: root, hashOffset: dataSize, dataSize, ...expected });
    const flipped = (at: number): Buffer => {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ 0x80;
      return copy;
    };
    const withTwo = flipped(9000 * VERITY_BLOCK + 17);
    withTwo[12_000 * VERITY_BLOCK] = (withTwo[12_000 * VERITY_BLOCK] ?? 0) ^ 1;
    expect(await check(withTwo)).toMatchObject({ ok: false, problem: 'data', block: 9000, offset: 9000 * VERITY_BLOCK, message: `data block 9000 (byte ${9000 * VERITY_BLOCK}) does not match its hash` });
    // Level 0 starts after the superblock's block, the top block and level 1's two.
    expect(await check(flipped(dataSize + 4 * VERITY_BLOCK + 5))).toMatchObject({ ok: false, problem: 'hash', block: 4, message: expect.stringContaining('hash block 0 of level 0') as unknown });
    expect(await check(flipped(dataSize + VERITY_BLOCK + 5))).toMatchObject({ ok: false, problem: 'root', block: 1 });
    expect(await check(bytes, { rootHash: 'f'.repeat(64) })).toMatchObject({ ok: false, problem: 'root' });
    expect(await check(flipped(dataSize + 2))).toMatchObject({ ok: false, problem: 'superblock', message: expect.stringContaining('no verity superblock') as unknown });
    expect(await check(bytes, { dataSize: dataSize - VERITY_BLOCK })).toMatchObject({ ok: false, problem: 'superblock', message: `the superblock says ${dataSize} bytes of data, expected ${dataSize - VERITY_BLOCK}` });
    expect(await check(bytes, { salt: '00' })).toMatchObject({ ok: false, problem: 'superblock' });
    // A salt changed in the superblock only: the root no longer matches.
    expect(await check(flipped(dataSize + 88))).toMatchObject({ ok: false, problem: 'root' });
  });

  it('reads in bounded pieces, never the whole image at once', async () => {
    const { bytes, root, dataSize } = await imageOf(2000);
    let largest = 0;
    const counting: ReadAt = (offset, into) => {
      largest = Math.max(largest, into.length);
      return reader(bytes)(offset, into);
    };
    expect((await checkVerity(counting, { rootHash: root, hashOffset: dataSize })).ok).toBe(true);
    expect(largest).toBe(1024 * 1024);
  });
});
