// SIGTERM in the middle of a download: the agent stops at once, and the next agent resumes the
// download from the frames already in the slot instead of starting over.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_FILE } from '../../images/publish-release.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

describe.skipIf(skip !== null)(`${skip ?? ''} slipway agent stopped mid-download`, () => {
  let fixture: AgentFixture;

  beforeAll(async () => {
    fixture = await startAgentFixture({ imageBytes: 4 * 1024 * 1024 });
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('exits on SIGTERM and resumes the download after a restart', async () => {
    // A slow payload: 64 KiB every 50 ms, so the check is still downloading when the agent is stopped.
    fixture.server.handle((request, _response, serve) => serve(request.url?.endsWith(PAYLOAD_FILE) ? { throttle: { bytes: 64 * 1024, everyMs: 50 } } : {}));
    const check = fixture.slipway(['check', '--json']);
    const progress = await new Promise<string>((resolve) => {
      const poll = async (): Promise<void> => {
        const status = JSON.parse((await fixture.slipway(['status', '--json'])).stdout) as { progress: { chunksDone: number } | null };
        if ((status.progress?.chunksDone ?? 0) >= 2) resolve(JSON.stringify(status.progress));
        else await poll();
      };
      void poll();
    });
    expect(JSON.parse(progress)).toMatchObject({ chunksDone: expect.any(Number) as number });
    expect(await fixture.stopAgent()).toBe(0);
    const interrupted = await check;
    expect(interrupted.code).not.toBe(0);

    fixture.server.handle(null);
    await fixture.startAgent();
    const resumed = await fixture.slipway(['check', '--json']);
    expect(resumed.code).toBe(0);
    const outcome = JSON.parse(resumed.stdout) as { result: string; resumedFromChunk: number };
    expect(outcome.result).toBe('staged');
    expect(outcome.resumedFromChunk).toBeGreaterThanOrEqual(2);
  });
});
