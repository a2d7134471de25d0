// A release in waves with the real agent (its own machine id, the release signed and served on
// loopback, a private bus): a host of the second wave downloads nothing, `slipway check`, `status`
// (text and JSON) and `plan` say until when it waits, and an operator's `slipway update --now` takes
// it at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_FILE } from '../../images/publish-release.ts';
import { rolloutPosition } from '../../agent/update/rollout-wave.ts';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });
const HOUR = 3_600_000;
// A host of the second wave: its place for 1.0.1 is at least 0.5.
const MACHINE_ID = Array.from({ length: 64 }, (_, i) => `7c3a9e1d5b2f4a6c8e0d${String(i).padStart(12, '0')}`).find((id) => rolloutPosition(id, '1.0.1') >= 0.5) ?? '';
const now = Math.floor(Date.now() / 1000) * 1000;
const T = new Date(now + 12 * HOUR).toISOString();

describe.skipIf(skip !== null)(`${skip ?? ''} the agent and a release in waves`, () => {
  let fixture: AgentFixture;
  const slipway = (args: string[]): ReturnType<AgentFixture['slipway']> => fixture.slipway(args);
  const payloadRequests = (): number => fixture.server.requests.filter((r) => r.path.endsWith(PAYLOAD_FILE)).length;

  beforeAll(async () => {
    expect(MACHINE_ID).not.toBe('');
    fixture = await startAgentFixture({
      machineId: MACHINE_ID,
      rollout: { waves: [{ at: new Date(now - HOUR).toISOString(), fraction: 0.5 }, { at: T, fraction: 1 }] },
    });
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('a host whose wave has not come downloads nothing; check, status and plan say until when', async () => {
    const reason = `1.0.1 waits for its wave until ${T} (wave 2 of 2)`;
    const check = await slipway(['check']);
    expect(check).toMatchObject({ code: 0, stdout: `${reason}; slipway update --now takes it at once\n` });
    expect(payloadRequests()).toBe(0);

    const status = JSON.parse((await slipway(['status', '--json'])).stdout) as { state: string; target: unknown; wave: unknown; lastCheck: { result: string } };
    expect(status).toMatchObject({ state: 'idle', target: null, lastCheck: { result: reason } });
    expect(status.wave).toEqual({ version: '1.0.1', until: T, position: rolloutPosition(MACHINE_ID, '1.0.1'), wave: 2, waves: 2 });
    expect((await slipway(['status'])).stdout).toContain(`Waiting: ${reason}; slipway update --now takes it at once\n`);

    expect((await slipway(['plan'])).stdout).toContain(`would wait: ${reason}; then install it into USR-B (slipway update --now takes it at once)\n`);
    const plan = JSON.parse((await slipway(['plan', '--json'])).stdout) as { plan: unknown };
    expect(plan.plan).toMatchObject({ action: 'wait', version: '1.0.1', until: T, wave: 2 });
    expect(payloadRequests()).toBe(0);
  });

  it('an operator\'s update --now takes it before its wave', async () => {
    const update = await slipway(['update', '--now']);
    expect(update).toMatchObject({ code: 0, stdout: 'staged 1.0.1 in USR-B; rebooting into it under the fleet lock\n' });
    expect(payloadRequests()).toBeGreaterThan(0);
    const status = JSON.parse((await slipway(['status', '--json'])).stdout) as { state: string; wave: unknown };
    expect(status).toMatchObject({ state: 'updated-need-reboot', wave: null });
  });
});
