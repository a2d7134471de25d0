// The test etcd: stop() also finishes when etcd already died of a signal, as it does when a terminal's
// Ctrl-C reaches the whole process group (the demo hung in its teardown before).

import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startEtcd } from './etcd-server.ts';

describe('startEtcd', () => {
  it('stops an etcd that a signal already killed', async () => {
    const etcd = await startEtcd();
    const pid = etcd.pid();
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGINT');
    await expect.poll(() => etcd.pid(), { timeout: 10_000 }).toBeUndefined();
    await etcd.stop();
    await expect(access(`/proc/${String(pid)}`)).rejects.toThrow();
  });
});
