// The control service checks its callers' uid itself, not only through the D-Bus policy: on a private
// bus with no policy at all, the real service (run by root, over a recording stand-in for the agent)
// refuses every method that changes something when dbus-send calls it as nobody, answers the
// read-only ones, and serves root; when the bus will not say who a caller is, it refuses too. The
// methods tested are checked against the service's own introspection, so a new method needs a test.

import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dbus from 'dbus-next';
import { exportControlService } from '../../agent/daemon/dbus-control-service.ts';
import { BUS_NAME, INTERFACE, OBJECT_PATH } from '../../agent/daemon/agent1-names.ts';
import { startOpenBus } from '../builders/dbus-daemon.ts';
import { missingTools } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import type { MessageBus } from 'dbus-next';
import type { ControlledCore } from '../../agent/daemon/dbus-control-service.ts';
import { BREAKER_OFF, idleStatus } from '../builders/agent-status.ts';
import type { AgentStatus } from '../../agent/daemon/agent-status.ts';
import type { DbusDaemon } from '../builders/dbus-daemon.ts';

const NOBODY = 65534;
const skip = missingTools({ 'dbus-daemon': 'dbus-daemon', 'dbus-send': 'dbus-bin' }) ?? (process.getuid?.() === 0 || process.env.CI === 'true' ? null : 'needs root (to serve as root and call as another uid)');

const STATUS: AgentStatus = idleStatus();

/** The agent as the service sees it, writing down each request that would change something. */
function recordingCore(): { core: ControlledCore; changes: string[] } {
  const changes: string[] = [];
  const core: ControlledCore = {
    onChange: () => undefined,
    status: () => STATUS,
    report: () => Promise.resolve({ ...STATUS, lock: null, firstBoot: null, rebootHooks: [], lastGate: null, breaker: BREAKER_OFF, verity: null }),
    plan: () => Promise.resolve({ action: 'none', version: '1.0.0', reason: 'up to date', slot: 'USR-A' }),
    check: (options) => {
      changes.push(options?.rebootNow === true ? 'ApplyUpdate' : 'CheckForUpdate');
      return Promise.resolve({ result: 'up-to-date', version: '1.0.0', reason: 'up to date' });
    },
    pin: (version) => {
      changes.push(version === null ? 'Unpin' : `Pin ${version}`);
      return Promise.resolve(STATUS);
    },
    unskip: (version) => {
      changes.push(`Unskip ${version}`);
      return Promise.resolve(STATUS);
    },
    rollback: (reboot) => {
      changes.push(`Rollback ${reboot}`);
      return Promise.resolve(STATUS);
    },
    rebootIfNeeded: () => {
      changes.push('RebootIfNeeded');
      return Promise.resolve(false);
    },
  };
  return { core, changes };
}

/** Each method that changes something, with dbus-send's arguments and what the stand-in records for it. */
const CHANGING: readonly (readonly [string, readonly string[], string])[] = [
  ['CheckForUpdate', [], 'CheckForUpdate'],
  ['ApplyUpdate', ['boolean:false'], 'ApplyUpdate'],
  ['Pin', ['string:1.0.1'], 'Pin 1.0.1'],
  ['Unpin', [], 'Unpin'],
  ['Unskip', ['string:1.0.1'], 'Unskip 1.0.1'],
  ['Rollback', ['boolean:true', 'boolean:false'], 'Rollback true'],
  ['RebootIfNeeded', ['boolean:false'], 'RebootIfNeeded'],
];

/** The methods anyone may call: they read and change nothing. Every other method must be in CHANGING. */
const READ_ONLY: readonly string[] = ['GetStatus', 'Plan'];

/** The members of INTERFACE in the service's own introspection XML. */
function members(xml: string, kind: 'method' | 'property'): { name: string; access: string | null }[] {
  const body = new RegExp(`<interface name="${INTERFACE.replaceAll('.', '\\.')}">([\\s\\S]*?)</interface>`).exec(xml)?.[1] ?? '';
  return [...body.matchAll(new RegExp(`<${kind} name="(\\w+)"([^>]*)>`, 'g'))].map(([, name = '', rest = '']) => ({ name, access: /access="(\w+)"/.exec(rest)?.[1] ?? null }));
}

interface Served {
  readonly bus: DbusDaemon;
  readonly service: MessageBus;
  readonly changes: string[];
  close(): Promise<void>;
}

async function serve(mandatory = ''): Promise<Served> {
  const bus = await startOpenBus(mandatory);
  const service = dbus.sessionBus({ busAddress: bus.address });
  const { core, changes } = recordingCore();
  await exportControlService(service, core);
  return {
    bus,
    service,
    changes,
    close: async () => {
      service.disconnect();
      await bus.stop();
    },
  };
}

/** dbus-send as `uid` (root when undefined): its exit code and what it printed. */
function call(address: string, method: string, args: readonly string[], uid?: number, iface = INTERFACE): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'dbus-send',
      [`--bus=${address}`, '--print-reply', `--dest=${BUS_NAME}`, OBJECT_PATH, `${iface}.${method}`, ...args],
      { ...(uid === undefined ? {} : { uid, gid: uid }) },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe.skipIf(skip !== null)(`${skip ?? ''} the control service's own check of the caller`, () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve();
  });
  afterAll(async () => {
    await served.close();
  });

  it('has a test for every method it exports: each is read-only or in the table of changing methods, and no property can be set', async () => {
    const introspected = await call(served.bus.address, 'Introspect', [], NOBODY, 'org.freedesktop.DBus.Introspectable');
    expect(introspected.code, introspected.stderr).toBe(0);
    const methods = members(introspected.stdout, 'method').map((m) => m.name);
    expect(methods).toContain('GetStatus');
    const tested = [...READ_ONLY, ...CHANGING.map(([method]) => method)];
    expect(methods.filter((m) => !tested.includes(m)), 'methods with no access test: add them to CHANGING or READ_ONLY').toEqual([]);
    expect(tested.filter((m) => !methods.includes(m)), 'tested methods the interface no longer has').toEqual([]);
    const properties = members(introspected.stdout, 'property');
    expect(properties.length).toBeGreaterThan(0);
    expect(properties.filter((p) => p.access !== 'read')).toEqual([]);
  });

  it('refuses setting a property to nobody and to root', async () => {
    for (const uid of [NOBODY, undefined]) {
      const set = await call(served.bus.address, 'Set', [`string:${INTERFACE}`, 'string:PinnedVersion', 'variant:string:9.9.9'], uid, 'org.freedesktop.DBus.Properties');
      expect(set.code).toBe(1);
    }
    const all = await call(served.bus.address, 'GetAll', [`string:${INTERFACE}`], NOBODY, 'org.freedesktop.DBus.Properties');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('"PinnedVersion"');
    expect(served.changes).toEqual([]);
  });

  it.each(CHANGING)('refuses %s from nobody with ERR_CALLER_NOT_ROOT, though no policy forbids it', async (method, args) => {
    const result = await call(served.bus.address, method, args, NOBODY);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Error org.slipway.Agent1.Error.ERR_CALLER_NOT_ROOT: only root may ask the agent to ${method}: the caller :`);
    expect(result.stderr).toContain(`runs as uid ${NOBODY}`);
    expect(served.changes).toEqual([]);
  });

  it("maps the refusal to slipway's exit code 10 with the agent's reason", async () => {
    const pin = await runSlipway(['pin', '1.0.1'], { env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: served.bus.address }, uid: NOBODY });
    expect(pin.code).toBe(10);
    expect(pin.stderr).toMatch(/^slipway: only root may ask the agent to Pin: the caller :[\d.]+ runs as uid 65534; run it with sudo \[ERR_CALLER_NOT_ROOT\]\n/);
    expect(served.changes).toEqual([]);
  });

  it('answers the read-only GetStatus and Plan to nobody', async () => {
    const status = await call(served.bus.address, 'GetStatus', [], NOBODY);
    expect(status).toMatchObject({ code: 0, stdout: expect.stringContaining('"booted":{"slot":"USR-A","version":"1.0.0"}') as unknown });
    const plan = await call(served.bus.address, 'Plan', [], NOBODY);
    expect(plan).toMatchObject({ code: 0, stdout: expect.stringContaining('"action":"none"') as unknown });
    expect(served.changes).toEqual([]);
  });

  it('serves root every method that changes something', async () => {
    for (const [method, args] of CHANGING) {
      const result = await call(served.bus.address, method, args);
      expect(result, method).toMatchObject({ code: 0, stderr: '' });
    }
    expect(served.changes).toEqual(CHANGING.map(([, , recorded]) => recorded));
  });
});

describe.skipIf(skip !== null)(`${skip ?? ''} the control service when the bus will not say who calls`, () => {
  let served: Served;
  beforeAll(async () => {
    // The bus refuses GetConnectionUnixUser to everyone, the service included.
    served = await serve('<deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="GetConnectionUnixUser"/>');
  });
  afterAll(async () => {
    await served.close();
  });

  it('refuses root as well, with ERR_CALLER_UNKNOWN (fails closed)', async () => {
    for (const [method, args] of CHANGING) {
      const result = await call(served.bus.address, method, args);
      expect(result.code, method).toBe(1);
      expect(result.stderr).toMatch(/^Error org\.slipway\.Agent1\.Error\.ERR_CALLER_UNKNOWN: cannot tell which user :[\d.]+ is: the bus did not answer GetConnectionUnixUser: org\.freedesktop\.DBus\.Error\.AccessDenied/);
    }
    expect(served.changes).toEqual([]);
    expect((await call(served.bus.address, 'GetStatus', [])).code).toBe(0);
  });
});
