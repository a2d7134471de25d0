// `slipway lock` as operators run it, against a real etcd on loopback: the semaphore, the host's
// settings, and maintenance holds that last until unlocked or for their --ttl.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../builders/coreos-disk.ts';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import { runSlipway } from '../builders/run-slipway.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer;
/** The test's own view of etcd, beside the CLI's. */
let raw: EtcdGatewayClient;
beforeAll(async () => {
  if (skip !== null) return;
  etcd = await startEtcd();
  raw = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
});
afterAll(async () => {
  if (skip !== null) return;
  raw.close();
  await etcd.stop();
});

function lock(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(['lock', ...args, '--etcd', etcd.url, '--group', 'canary']);
}

/** Resolves once etcd has deleted `key` (its lease ran out), waiting on etcd's watch rather than a timer. */
async function deletedByEtcd(key: string): Promise<void> {
  for (;;) {
    const { revision, kvs } = await raw.range(key);
    if (kvs.length === 0) return;
    await raw.nextChange(key, revision, { deletesOnly: true, maxWaitMs: 10_000 });
  }
}

interface StatusJson {
  holders: { id: string; alive: boolean | null; record: { since: string; expires?: string } | null }[];
  semaphore: { holders: string[] };
}

describe.skipIf(skip !== null)(`${skip ?? ''} slipway lock`, () => {
  it('acquires, reports full with exit 8, shows holders, unlocks and changes max', async () => {
    expect(await lock('acquire', 'host-a')).toMatchObject({ code: 0, stdout: 'acquired by host-a, permanently, until unlocked\n' });
    expect(await lock('acquire', 'host-a')).toMatchObject({ code: 0, stdout: 'already held by host-a, permanently, until unlocked\n' });
    expect(await lock('acquire', 'host-b')).toMatchObject({ code: 8, stdout: 'semaphore is full; held by host-a\n' });
    const status = JSON.parse((await lock('status', '--json')).stdout) as { key: string; semaphore: unknown; holders: { id: string; alive: boolean }[] };
    expect(status.key).toBe('coreos.com/updateengine/rebootlock/groups/canary/semaphore');
    expect(status.semaphore).toEqual({ semaphore: 0, max: 1, holders: ['host-a'] });
    expect(status.holders).toMatchObject([{ id: 'host-a', alive: true }]);
    expect((await lock('status')).stdout).toMatch(/1 of 1 held[\s\S]*host-a: .*, permanent \(operator hold, until unlocked\)\n/);
    expect(await lock('set-max', '2')).toMatchObject({ code: 0, stdout: 'max 2, semaphore 1\n' });
    expect((await lock('acquire', 'host-b')).code).toBe(0);
    expect(await lock('unlock', 'host-a')).toMatchObject({ code: 0, stdout: 'released by host-a\n' });
    expect(await lock('unlock', 'host-a')).toMatchObject({ code: 0, stdout: 'not held by host-a\n' });
  });

  it('refuses a bad max as a usage error', async () => {
    expect((await lock('set-max', 'many')).code).toBe(2);
  });

  it('keeps a hold without --ttl past a short lease, and lets the next host reclaim one with --ttl after it', async () => {
    const held = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runSlipway(['lock', ...args, '--etcd', etcd.url, '--group', 'maint']);
    expect((await held('set-max', '2')).code).toBe(0);
    expect(await held('acquire', 'kept')).toMatchObject({ code: 0, stdout: 'acquired by kept, permanently, until unlocked\n' });
    expect(await held('acquire', 'brief', '--ttl', '2s')).toMatchObject({ code: 0, stdout: 'acquired by brief, for 2s\n' });
    const prefix = 'coreos.com/updateengine/rebootlock/groups/maint/holders';
    // The permanent hold's alive key has no lease; the other's has one of (at least) 2 s.
    expect((await raw.get(`${prefix}/kept/alive`))?.lease).toBe('0');
    expect((await raw.get(`${prefix}/brief/alive`))?.lease).not.toBe('0');
    const before = JSON.parse((await held('status', '--json')).stdout) as StatusJson;
    const brief = before.holders.find((h) => h.id === 'brief')?.record;
    expect(before.holders.find((h) => h.id === 'kept')).toMatchObject({ alive: true, record: { expires: 'never' } });
    expect(Date.parse(brief?.expires ?? '') - Date.parse(brief?.since ?? '')).toBeGreaterThanOrEqual(2_000);
    expect((await held('acquire', 'third')).code).toBe(8);

    await deletedByEtcd(`${prefix}/brief/alive`);
    const human = (await held('status')).stdout;
    expect(human).toMatch(/ {2}kept: .*, permanent \(operator hold, until unlocked\)\n/);
    expect(human).toMatch(new RegExp(` {2}brief: .*, operator hold until ${brief?.expires ?? 'none'}, EXPIRED \\(reclaimable\\)\n`));
    expect((await raw.get(`${prefix}/kept/alive`))?.lease).toBe('0');
    expect(await held('acquire', 'third')).toMatchObject({ code: 0, stdout: 'acquired by third, permanently, until unlocked (reclaimed expired brief)\n' });
    // Nobody reclaims a permanent hold: both places stay taken until an operator unlocks one.
    expect(await held('acquire', 'fourth')).toMatchObject({ code: 8, stdout: 'semaphore is full; held by kept, third\n' });
    expect(await held('unlock', 'kept')).toMatchObject({ code: 0, stdout: 'released by kept\n' });
    expect((await raw.get(`${prefix}/kept/alive`))).toBeNull();
    expect((JSON.parse((await held('status', '--json')).stdout) as StatusJson).semaphore.holders).toEqual(['third']);
  });

  it('refuses a --ttl that is not a duration, too short, or without acquire', async () => {
    expect(await lock('acquire', 'host-x', '--ttl', '10')).toMatchObject({ code: 2, stderr: expect.stringContaining('--ttl "10" is not a duration') as unknown });
    expect(await lock('acquire', 'host-x', '--ttl', '500ms')).toMatchObject({ code: 2, stderr: expect.stringContaining('--ttl must be at least 1s') as unknown });
    expect((await lock('status', '--ttl', '1h')).code).toBe(2);
  });

  it("uses the host's lock settings without flags, each flag replacing its setting", async () => {
    const dir = await tempDir();
    try {
      const config = join(dir.path, 'config.d');
      await mkdir(config);
      await writeFile(join(config, '50-lock.yaml'), `lock:\n  group: from-config\n  etcd:\n    endpoints: [${etcd.url}]\n`);
      const host = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runSlipway(['--config-dir', config, 'lock', ...args]);
      expect(await host('acquire', 'host-c')).toMatchObject({ code: 0, stdout: 'acquired by host-c, permanently, until unlocked\n' });
      const status = JSON.parse((await host('status', '--json')).stdout) as { key: string; semaphore: { holders: string[] } };
      expect(status).toMatchObject({ key: 'coreos.com/updateengine/rebootlock/groups/from-config/semaphore', semaphore: { holders: ['host-c'] } });
      const flagged = JSON.parse((await host('status', '--json', '--group', 'canary')).stdout) as { key: string };
      expect(flagged.key).toBe('coreos.com/updateengine/rebootlock/groups/canary/semaphore');

      await writeFile(join(config, '60-broken.yaml'), 'lock:\n  etcd:\n    endpoints: [not a url]\n');
      const refused = await host('status');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('60-broken.yaml');
      const overridden = await host('status', '--etcd', etcd.url, '--group', 'from-config');
      expect(overridden.code, overridden.stderr).toBe(0);
      expect(overridden.stderr).toContain("the host's settings do not load");
      expect(overridden.stdout).toContain('host-c');
    } finally {
      await dir.remove();
    }
  });

  it('exits 7 naming the endpoint when etcd cannot be reached, and 2 naming a TLS file it cannot read', async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const unreachable = await runSlipway(['lock', 'status', '--etcd', 'http://127.0.0.1:1']);
    expect(unreachable.code).toBe(7);
    expect(unreachable.stderr).toMatch(/^slipway: cannot reach etcd at http:\/\/127\.0\.0\.1:1 .*\[ERR_LOCK_UNAVAILABLE\]\n {2}caused by: .*ECONNREFUSED/);
    const unreadable = await runSlipway(['lock', 'status', '--etcd', etcd.url, '--etcd-cafile', '/nonexistent/ca.pem']);
    expect(unreadable).toMatchObject({ code: 2, stderr: expect.stringContaining('slipway: cannot read the etcd CA file /nonexistent/ca.pem [ERR_LOCK_CONFIG_INVALID]') as unknown });
  });
});
