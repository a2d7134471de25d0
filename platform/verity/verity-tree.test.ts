// Our dm-verity tree against veritysetup (cryptsetup-bin) as the oracle: the same root hash and the
// same hash device, byte for byte, for trees of one, two and three levels and at block boundaries.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { computeVerityTree, VERITY_BLOCK, verityHashArea, verityLayout } from './verity-tree.ts';
import { missingTools } from '../../test/builders/require-tools.ts';

const exec = promisify(execFile);
const skip = missingTools({ veritysetup: 'cryptsetup-bin' });
const SALT = Buffer.from('5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed5a17ed0001', 'hex');
const UUID = '8f6e2a3c-1b4d-4e5f-9a0b-1c2d3e4f5a6b';

describe('verityLayout', () => {
  it('counts levels until one block holds the top', () => {
    expect(verityLayout(1).levelBlocks).toEqual([]);
    expect(verityLayout(128).levelBlocks).toEqual([1]);
    expect(verityLayout(129).levelBlocks).toEqual([2, 1]);
    expect(verityLayout(128 * 128 + 1)).toEqual({ dataBlocks: 16_385, levelBlocks: [129, 2, 1], hashBlocks: 132 });
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} the hash tree against veritysetup`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-verity-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([1, 127, 128, 129, 300, 128 * 128 + 1])('%i data blocks: the same root hash and hash device', async (blocks) => {
    const data = join(dir, `data-${blocks}`);
    const hash = join(dir, `hash-${blocks}`);
    await writeFile(data, randomBytes(blocks * VERITY_BLOCK));
    const { stdout } = await exec('veritysetup', ['format', data, hash, `--salt=${SALT.toString('hex')}`, `--uuid=${UUID}`]);
    const root = /Root hash:\s+([0-9a-f]{64})/.exec(stdout)?.[1];
    // Chunks of an odd size, so blocks straddle them.
    const tree = await computeVerityTree(createReadStream(data, { highWaterMark: 3 * VERITY_BLOCK + 1000 }), { salt: SALT, uuid: UUID });
    expect(tree.rootHash).toBe(root);
    expect(tree.layout.dataBlocks).toBe(blocks);
    const area = verityHashArea(tree, { salt: SALT, uuid: UUID });
    const theirs = await readFile(hash);
    expect(area.length).toBe(theirs.length);
    expect(area.equals(theirs)).toBe(true);
  });

  it('refuses data that is not whole blocks', async () => {
    const data = join(dir, 'ragged');
    await writeFile(data, Buffer.alloc(VERITY_BLOCK + 1));
    await expect(computeVerityTree(createReadStream(data), { salt: SALT })).rejects.toThrow('verity data must be whole 4096-byte blocks; 1 bytes are left over');
  });
});
