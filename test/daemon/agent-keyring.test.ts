// The agent loads its update path (got, openpgp, the keyring) after it answers on D-Bus: with the
// keyring gone it still starts and answers, says why at start and at every check, and checks again
// once the keyring is back, without a restart.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

describe.skipIf(skip !== null)(`${skip ?? ''} slipway agent without its keyring`, () => {
  let fixture: AgentFixture;

  beforeAll(async () => {
    fixture = await startAgentFixture();
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('answers, reports the missing keyring at start and at each check, and checks once it is back', async () => {
    const keyring = join(fixture.dir, 'keyring.asc');
    expect(await fixture.stopAgent()).toBe(0);
    await rename(keyring, `${keyring}.away`);
    await fixture.startAgent();
    const status = await fixture.slipway(['status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ booted: { slot: 'USR-A', version: '1.0.0' }, health: 'confirmed' });
    await expect.poll(() => fixture.agentLog()).toContain('cannot set up the update path');
    expect(fixture.agentLog()).toContain(`keyring ${keyring} does not exist`);

    const refused = await fixture.slipway(['check', '--json']);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain(`keyring ${keyring} does not exist`);

    await rename(`${keyring}.away`, keyring);
    const checked = await fixture.slipway(['check', '--json']);
    expect(checked.code, checked.stderr).toBe(0);
    expect(JSON.parse(checked.stdout)).toMatchObject({ result: 'staged', version: '1.0.1' });
  });
});
