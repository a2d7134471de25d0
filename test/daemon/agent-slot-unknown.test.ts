// `slipway agent` on a host where nothing says which slot is running (a kernel command line without
// a /usr or root partition, / on an overlay): it starts and answers, says why in its status, refuses
// every check and change with exit 12, and the disk is byte-identical; the lock commands still work.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgentFixture } from '../builders/agent-fixture.ts';
import { missingTools, SGDISK } from '../builders/require-tools.ts';
import type { AgentFixture } from '../builders/agent-fixture.ts';

const skip = missingTools({ ...SGDISK, etcd: 'etcd-server', 'dbus-daemon': 'dbus-daemon' });

describe.skipIf(skip !== null)(`${skip ?? ''} slipway agent when the running slot is unknown`, () => {
  let fixture: AgentFixture;
  let disk: Buffer;

  beforeAll(async () => {
    fixture = await startAgentFixture({ cmdline: 'BOOT_IMAGE=/vmlinuz root=/dev/sda9 ro quiet' });
    disk = await readFile(join(fixture.dir, 'disk.img'));
  });
  afterAll(async () => {
    await fixture.close();
  });

  it('answers with phase slot-unknown and says what it looked at', async () => {
    const json = await fixture.slipway(['status', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      activity: 'slot-unknown',
      health: 'unknown',
      booted: { slot: null, version: '1.0.0' },
      bootedUnknown: { code: 'ERR_BOOTED_SLOT_UNKNOWN', message: expect.stringContaining('root=/dev/sda9 (not a partition)') as unknown },
      nextCheck: null,
    });
    const human = await fixture.slipway(['status']);
    expect(human.stdout).toContain('State: idle, slot-unknown\n');
    expect(human.stdout).toMatch(/Running slot: unknown, so updates and slot changes are refused: cannot tell which slot of .*disk\.img is running/);
    expect(fixture.agentLog()).toContain('no update or slot change until the agent is restarted with a fact that names it');
  });

  it('refuses checks, updates, rollbacks and pins that change the disk with exit 12; plan says why', async () => {
    for (const args of [['check'], ['update', '--now'], ['rollback']]) {
      const result = await fixture.slipway(args);
      expect(result.code, args.join(' ')).toBe(12);
      expect(result.stderr).toContain('[ERR_BOOTED_SLOT_UNKNOWN]');
    }
    const plan = await fixture.slipway(['plan', '--json']);
    expect(JSON.parse(plan.stdout)).toMatchObject({ plan: { action: 'refused', code: 'ERR_BOOTED_SLOT_UNKNOWN' } });
    expect(Buffer.compare(await readFile(join(fixture.dir, 'disk.img')), disk)).toBe(0);
  });

  it('keeps the lock commands working', async () => {
    const lock = await fixture.slipway(['lock', 'status', '--json']);
    expect(lock.code).toBe(0);
  });
});
