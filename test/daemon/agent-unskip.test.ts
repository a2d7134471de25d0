// Skipped versions over D-Bus end to end: the real agent charges a bad signature to the release it
// was fetching, skips it after the third, `slipway status` says why and how often, and `slipway
// unskip` (root only) gives it another chance; unskipping a version not skipped has its own exit code.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });
const NOBODY = 65534;
const REASON = 'failed 3 times, last with ERR_SIGNATURE_INVALID';

describe.skipIf(skip !== null)(`${skip ?? ''} slipway unskip over D-Bus`, () => {
  let fixture: AgentFixture;
  const slipway = (args: string[], uid?: number): ReturnType<AgentFixture['slipway']> => fixture.slipway(args, uid);

  beforeAll(async () => {
    fixture = await startAgentFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('skips a release after three bad signatures, shows why, and unskips it for root only', async () => {
    const manifestPath = join(fixture.dir, 'www', 'stable', 'manifest.json');
    const signed = await readFile(manifestPath);
    await writeFile(manifestPath, Buffer.concat([signed, Buffer.from('\n')]));
    for (let i = 0; i < 3; i++) {
      const check = await slipway(['check']);
      expect(check.code).toBe(6);
      expect(check.stderr).toContain('[ERR_SIGNATURE_INVALID]');
    }
    await writeFile(manifestPath, signed);

    const status = JSON.parse((await slipway(['status', '--json'])).stdout) as { skipped: unknown; lastError: unknown };
    expect(status.skipped).toEqual([{ version: '1.0.1', reason: REASON, failures: 3 }]);
    expect(status.lastError).toMatchObject({ code: 'ERR_SIGNATURE_INVALID' });
    expect((await slipway(['status'])).stdout).toContain(`Skipped: 1.0.1 (${REASON}; 3 failures charged to it; slipway unskip 1.0.1 gives it another chance)\n`);
    expect(await slipway(['check'])).toMatchObject({ code: 0, stdout: `up to date: skipping 1.0.1: ${REASON}\n` });

    const denied = await slipway(['unskip', '1.0.1'], NOBODY);
    expect(denied.code).toBe(10);
    expect(await slipway(['unskip', '1.0.1'])).toMatchObject({ code: 0, stdout: 'unskipped 1.0.1: the next check may install it\n' });
    expect((JSON.parse((await slipway(['status', '--json'])).stdout) as { skipped: unknown }).skipped).toEqual([]);
    expect((await slipway(['plan'])).stdout).toContain('would install 1.0.1 into USR-B');
  });

  it('refuses to unskip a version that is not skipped, with its own exit code', async () => {
    const result = await slipway(['unskip', '1.0.1']);
    expect(result.code).toBe(12);
    expect(result.stderr).toContain('1.0.1 is not skipped (skipped: none) [ERR_NOT_SKIPPED]');
    expect((await slipway(['unskip', 'latest'])).code).toBe(2);
  });
});
