// The verified-root judgement over scripted facts: a verity root with the recorded hash passes; a
// plain partition, another target, another hash, or a fact that cannot be read does not.

import { describe, expect, it } from 'vitest';
import { inspectRoot, parseVerityTable } from './verity-root.ts';
import type { RootDeviceFacts } from './verity-root.ts';

const HASH = 'c0ffee'.padEnd(64, '0');
const OTHER = 'deadbeef'.padEnd(64, '1');
const TABLE = `0 414848 verity 1 254:3 254:3 4096 4096 51856 51857 sha256 ${HASH} ${'ab'.repeat(32)}\n`;

function facts(over: Partial<{ device: string; dm: string | null; table: string; fail: string }> = {}): RootDeviceFacts {
  return {
    rootDevice: () => (over.fail === 'device' ? Promise.reject(new Error('no mountinfo')) : Promise.resolve(over.device ?? '253:0')),
    dmName: () => Promise.resolve(over.dm === undefined ? 'slipway-root' : over.dm),
    dmTable: () => (over.fail === 'table' ? Promise.reject(new Error('dmsetup: not found')) : Promise.resolve(over.table ?? TABLE)),
  };
}

describe('the verified root', () => {
  it('reads the kernel verity table line', () => {
    expect(parseVerityTable(TABLE)).toEqual({ dataDevice: '254:3', hashDevice: '254:3', dataBlocks: 51856, hashStartBlock: 51857, hashBlockSize: 4096, algorithm: 'sha256', rootHash: HASH });
    expect(parseVerityTable('0 100 linear 8:3 0\n')).toBe('a linear target, not verity');
    expect(parseVerityTable(`${TABLE}${TABLE}`)).toBe('2 targets, not one verity target');
  });

  it('passes a verity root over the recorded hash', async () => {
    const view = await inspectRoot(facts(), HASH);
    expect(view).toMatchObject({ verified: true, device: '253:0', dmName: 'slipway-root', rootHash: HASH, recorded: HASH });
    expect(view.detail).toBe(`the root slipway-root (253:0) is dm-verity over 254:3 with the recorded root hash ${HASH}`);
  });

  it('fails a plain partition, another target, another hash, none recorded, and a fact it cannot read', async () => {
    expect(await inspectRoot(facts({ device: '254:3', dm: null }), HASH)).toMatchObject({ verified: false, detail: 'the root is 254:3, a plain block device, not dm-verity' });
    expect(await inspectRoot(facts({ table: '0 100 linear 8:3 0' }), HASH)).toMatchObject({ verified: false, detail: 'the root slipway-root (253:0) is a linear target, not verity' });
    expect(await inspectRoot(facts(), OTHER)).toMatchObject({ verified: false, rootHash: HASH, detail: `the root slipway-root is verified by root hash ${HASH}, not the recorded ${OTHER}` });
    expect(await inspectRoot(facts(), null)).toMatchObject({ verified: false, detail: `the root slipway-root is verified by root hash ${HASH}, but none is recorded for the booted slot` });
    expect(await inspectRoot(facts({ fail: 'table' }), HASH)).toMatchObject({ verified: false, detail: 'cannot tell what the root is: dmsetup: not found' });
    expect(await inspectRoot(facts({ fail: 'device' }), HASH)).toMatchObject({ verified: false, detail: 'cannot tell what the root is: no mountinfo' });
  });
});
