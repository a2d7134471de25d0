// `slipway lock` as operators run it, against a real etcd on loopback.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../builders/coreos-disk.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import { runSlipway } from '../builders/run-slipway.ts';

const skip = missingTools({ etcd: 'etcd-server' });
let etcd: EtcdServer;
beforeAll(async () => {
  if (skip !== null) return;
  etcd = await startEtcd();
});
afterAll(async () => {
  if (skip !== null) return;
  await etcd.stop();
});

function lock(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runSlipway(['lock', ...args, '--etcd', etcd.url, '--group', 'canary']);
}

describe.skipIf(skip !== null)(`${skip ?? ''} slipway lock`, () => {
  it('acquires, reports full with exit 8, shows holders, unlocks and changes max', async () => {
    expect(await lock('acquire', 'host-a')).toMatchObject({ code: 0, stdout: 'acquired by host-a\n' });
    expect(await lock('acquire', 'host-a')).toMatchObject({ code: 0, stdout: 'already held by host-a\n' });
    expect(await lock('acquire', 'host-b')).toMatchObject({ code: 8, stdout: 'semaphore is full; held by host-a\n' });
    const status = JSON.parse((await lock('status', '--json')).stdout) as { key: string; semaphore: unknown; holders: { id: string; alive: boolean }[] };
    expect(status.key).toBe('coreos.com/updateengine/rebootlock/groups/canary/semaphore');
    expect(status.semaphore).toEqual({ semaphore: 0, max: 1, holders: ['host-a'] });
    expect(status.holders).toMatchObject([{ id: 'host-a', alive: true }]);
    expect((await lock('status')).stdout).toMatch(/1 of 1 held[\s\S]*host-a: .*lease alive/);
    expect(await lock('set-max', '2')).toMatchObject({ code: 0, stdout: 'max 2, semaphore 1\n' });
    expect((await lock('acquire', 'host-b')).code).toBe(0);
    expect(await lock('unlock', 'host-a')).toMatchObject({ code: 0, stdout: 'released by host-a\n' });
    expect(await lock('unlock', 'host-a')).toMatchObject({ code: 0, stdout: 'not held by host-a\n' });
  });

  it('refuses a bad max as a usage error', async () => {
    expect((await lock('set-max', 'many')).code).toBe(2);
  });

  it("uses the host's lock settings without flags, each flag replacing its setting", async () => {
    const dir = await tempDir();
    try {
      const config = join(dir.path, 'config.d');
      await mkdir(config);
      await writeFile(join(config, '50-lock.yaml'), `lock:\n  group: from-config\n  etcd:\n    endpoints: [${etcd.url}]\n`);
      const host = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runSlipway(['--config-dir', config, 'lock', ...args]);
      expect(await host('acquire', 'host-c')).toMatchObject({ code: 0, stdout: 'acquired by host-c\n' });
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
