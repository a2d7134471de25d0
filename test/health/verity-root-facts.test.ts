// The host's root facts from files laid out as /proc and /sys lay them out, and `dmsetup table` as a
// command (the real one runs in the VM suite, where the root is a dm-verity device): the probe's
// wiring adds the verified-root probe only where a hash is recorded or the record cannot be read.

import { describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostRootDeviceFacts } from '../../agent/health-io/verity-root-facts.ts';
import { inspectRoot } from '../../agent/health/verity-root.ts';
import { verifiedRootProbes } from '../../agent/wiring/booted-verity.ts';
import { useTempDir } from '../builders/coreos-disk.ts';

const dir = useTempDir(null);
const HASH = '5e'.repeat(32);
const MOUNTINFO = ['21 1 253:0 / / ro,relatime shared:1 - squashfs /dev/mapper/slipway-root ro', '22 21 0:5 / /dev rw shared:2 - devtmpfs udev rw', '30 21 0:25 / /etc rw shared:9 - overlay overlay rw', ''].join('\n');

async function host(tableLine: string): Promise<HostRootDeviceFacts> {
  const root = join(dir(), String(Math.random()).slice(2));
  await mkdir(join(root, 'sys', '253:0', 'dm'), { recursive: true });
  await writeFile(join(root, 'mountinfo'), MOUNTINFO);
  await writeFile(join(root, 'sys', '253:0', 'dm', 'name'), 'slipway-root\n');
  const dmsetup = join(root, 'dmsetup');
  await writeFile(dmsetup, `#!/bin/sh\n[ "$1 $2 $3" = "table -- slipway-root" ] || { echo "unexpected: $*" >&2; exit 1; }\necho '${tableLine}'\n`);
  await chmod(dmsetup, 0o755);
  return new HostRootDeviceFacts({ mountinfo: join(root, 'mountinfo'), sysDevBlock: join(root, 'sys'), dmsetup });
}

describe('the root facts on a host', () => {
  it('finds the root mount, its device-mapper name and table, and judges them', async () => {
    const facts = await host(`0 414848 verity 1 254:3 254:3 4096 4096 51856 51857 sha256 ${HASH} ${'ab'.repeat(32)}`);
    expect(await facts.rootDevice()).toBe('253:0');
    expect(await facts.dmName('253:0')).toBe('slipway-root');
    expect(await facts.dmName('254:3')).toBeNull();
    expect(await inspectRoot(facts, HASH)).toMatchObject({ verified: true, rootHash: HASH });
  });

  it('adds the verified-root probe with a recorded hash or an unreadable record, and none without a record', () => {
    expect(verifiedRootProbes({ slot: 'USR-B', recorded: HASH, problem: null })).toEqual([{ name: 'verified-root', verity: { recorded: HASH } }]);
    expect(verifiedRootProbes({ slot: 'USR-B', recorded: null, problem: 'cannot read' })).toEqual([{ name: 'verified-root', verity: { recorded: null } }]);
    expect(verifiedRootProbes({ slot: 'USR-B', recorded: null, problem: null })).toEqual([]);
    expect(verifiedRootProbes(null)).toEqual([]);
  });
});
