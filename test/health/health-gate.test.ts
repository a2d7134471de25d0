// The health gate over a scripted unit-state port and the test clock: settle, crash loops, units
// that never start, the deadline, the baseline, and real probes (a loopback HTTP server, commands).

import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { awaitHealthyBoot } from '../../agent/health/health-gate.ts';
import { HostProbeRunner } from '../../agent/health-io/host-probe-runner.ts';
import { useTempDir } from '../builders/coreos-disk.ts';
import { TestClock } from '../fakes/test-clock.ts';
import { crashLoop, NEVER_STARTED, RUNNING, ScriptedUnits, TARGET_ACTIVE } from '../fakes/scripted-units.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GateOptions, GateSettings } from '../../agent/health/health-gate.ts';
import type { ProbeSpec, UnitState } from '../../agent/health/health-ports.ts';

const dir = useTempDir(null);
const SETTINGS: GateSettings = { timeoutMs: 300_000, pollMs: 2_000, settleMs: 30_000, criticalUnits: [], workloadUnits: ['app.service'], probes: [] };
const NO_PROBES = { run: () => Promise.reject(new Error('no probe expected')) };
const TRIAL: GateOptions = { baseline: null, stopOnFailure: true };

function gate(script: Record<string, UnitState | ((ms: number) => UnitState)>, settings: Partial<GateSettings> = {}, options = TRIAL, probes: { run: HostProbeRunner['run'] } = NO_PROBES) {
  const clock = new TestClock('2026-11-22T12:00:00Z');
  const units = new ScriptedUnits(clock, script);
  const elapsed = (iso: string | null): number => (iso === null ? NaN : Date.parse(iso) - Date.parse('2026-11-22T12:00:00Z'));
  return { clock, units, elapsed, run: () => awaitHealthyBoot({ units, probes, clock }, { ...SETTINGS, ...settings }, options) };
}

describe('health gate: units', () => {
  it('passes once every critical unit has stayed active for the settle time, not on the first poll', async () => {
    const { run, elapsed } = gate({ 'app.service': RUNNING });
    const result = await run();
    expect(result).toMatchObject({ healthy: true, reason: null, target: 'active' });
    expect(elapsed(result.finishedAt)).toBe(30_000);
    expect(result.units).toEqual([{ name: 'app.service', source: 'workload', activeState: 'active', subState: 'running', result: 'success', restarts: 0, verdict: 'ok', reason: 'active (running)' }]);
  });

  it('fails a crash-looping unit at the deadline, naming the loop and its restarts', async () => {
    const { run, elapsed } = gate({ 'app.service': crashLoop(10_000) });
    const result = await run();
    expect(result.healthy).toBe(false);
    expect(elapsed(result.finishedAt)).toBe(300_000);
    expect(result.reason).toBe('app.service crash-looping: auto-restart, 31 restarts');
    expect(result.units[0]).toMatchObject({ verdict: 'failed', activeState: 'activating', subState: 'auto-restart', restarts: 31 });
  });

  it('fails a unit that is active at every poll but restarts within every settle window', async () => {
    // Up again before each poll sees it down: only NRestarts tells.
    const { run } = gate({ 'app.service': (ms) => ({ ...RUNNING, nRestarts: Math.floor(ms / 20_000) }) });
    const result = await run();
    expect(result.healthy).toBe(false);
    expect(result.reason).toBe('app.service restarting: 15 restarts, the last within the 30 s settle time');
  });

  it('blames a crash-looping unit that the last poll before the deadline happens to find up again', async () => {
    // Down at every poll but the last, which catches it just restarted: the restarts since the gate began tell.
    const { run } = gate({ 'app.service': (ms) => (ms < 300_000 ? crashLoop(10_000)(ms) : { ...RUNNING, nRestarts: 30 }) });
    const result = await run();
    expect(result.healthy).toBe(false);
    expect(result.reason).toBe('app.service restarting: 30 restarts, the last within the 30 s settle time');
    expect(result.units[0]).toMatchObject({ verdict: 'failed', activeState: 'active', restarts: 30 });
  });

  it('starts the settle time again after a restart and passes once the unit has stayed up', async () => {
    const { run, elapsed } = gate({ 'app.service': (ms) => ({ ...RUNNING, nRestarts: ms >= 20_000 ? 1 : 0 }) });
    const result = await run();
    expect(result.healthy).toBe(true);
    expect(elapsed(result.finishedAt)).toBe(50_000);
    expect(result.units[0]).toMatchObject({ verdict: 'ok', restarts: 1, reason: 'active (running), 1 restart' });
  });

  it('fails a unit that never started at the deadline', async () => {
    const { run } = gate({ 'app.service': NEVER_STARTED });
    const result = await run();
    expect(result).toMatchObject({ healthy: false, reason: 'app.service never started (inactive, dead)' });
    expect(result.units[0]?.verdict).toBe('failed');
  });

  it('fails at once on a failed critical unit', async () => {
    const { run, elapsed } = gate({ 'app.service': { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'exit-code' } }, { criticalUnits: ['db.service'] }, TRIAL);
    const result = await run();
    expect(result.healthy).toBe(false);
    expect(elapsed(result.finishedAt)).toBe(0);
    expect(result.reason).toBe('app.service failed (exit-code)');
    // db.service is the operator's and not found: still pending when the gate stopped.
    expect(result.units.map((u) => [u.name, u.source, u.verdict])).toEqual([
      ['db.service', 'operator', 'pending'],
      ['app.service', 'workload', 'failed'],
    ]);
  });

  it('fails when multi-user.target is not reached within the timeout', async () => {
    const { run, elapsed } = gate({ 'app.service': RUNNING, 'multi-user.target': { ...TARGET_ACTIVE, activeState: 'activating', subState: 'active' } }, { timeoutMs: 60_000 });
    const result = await run();
    expect(elapsed(result.finishedAt)).toBe(60_000);
    expect(result).toMatchObject({ healthy: false, reason: 'multi-user.target is activating', target: 'activating' });
  });

  it('counts a oneshot that ran and exited 0 as healthy', async () => {
    const { run } = gate({ 'app.service': { ...RUNNING, activeState: 'inactive', subState: 'dead' } });
    const result = await run();
    expect(result.healthy).toBe(true);
    expect(result.units[0]?.reason).toBe('exited successfully');
  });

  it('makes slipway-cloudinit.service critical only on a boot where it ran', async () => {
    const ran = await gate({ 'app.service': RUNNING, 'slipway-cloudinit.service': { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'exit-code' } }).run();
    expect(ran).toMatchObject({ healthy: false, reason: 'slipway-cloudinit.service failed (exit-code)' });
    expect(ran.units.map((u) => [u.name, u.source])).toContainEqual(['slipway-cloudinit.service', 'first-boot']);
    const skipped = await gate({ 'app.service': RUNNING, 'slipway-cloudinit.service': { ...NEVER_STARTED, condition: 'failed' } }).run();
    expect(skipped.healthy).toBe(true);
    expect(skipped.units.map((u) => u.name)).toEqual(['app.service']);
  });
});

describe('health gate: baseline', () => {
  const baseline = { version: '1.0.0', at: '2026-11-21T00:00:00Z', units: ['legacy.service'], probes: [] };

  it('does not fail a release for a unit already broken on the last good boot, and reports it as pre-existing', async () => {
    const { run, elapsed } = gate({ 'app.service': RUNNING, 'legacy.service': crashLoop(5_000) }, { workloadUnits: ['app.service', 'legacy.service'] }, { baseline, stopOnFailure: true });
    const result = await run();
    expect(result.healthy).toBe(true);
    expect(elapsed(result.finishedAt)).toBe(30_000);
    expect(result.units.find((u) => u.name === 'legacy.service')).toMatchObject({ verdict: 'pre-existing', reason: 'crash-looping: auto-restart, 7 restarts (already so on 1.0.0)' });
  });

  it('still blames the release for what it broke beside a pre-existing failure', async () => {
    const { run } = gate({ 'app.service': NEVER_STARTED, 'legacy.service': { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'exit-code' } }, { workloadUnits: ['app.service', 'legacy.service'], timeoutMs: 60_000 }, { baseline, stopOnFailure: true });
    const result = await run();
    expect(result).toMatchObject({ healthy: false, reason: 'app.service never started (inactive, dead)' });
    expect(result.units.map((u) => [u.name, u.verdict])).toEqual([
      ['app.service', 'failed'],
      ['legacy.service', 'pre-existing'],
    ]);
  });
});

describe('health gate: probes', () => {
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise((resolve) => (server === null ? resolve(null) : server.close(resolve)));
    server = null;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  }

  it('retries an HTTP probe that answers 503 until it answers 200', async () => {
    const statuses = [503, 503, 200];
    const url = await serve((_request, response) => response.writeHead(statuses.shift() ?? 200).end('ok'));
    const probe: ProbeSpec = { name: 'api', http: { url, status: { low: 200, high: 399 }, timeoutSeconds: 5 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe] }, TRIAL, new HostProbeRunner()).run();
    expect(result.healthy).toBe(true);
    expect(result.probes).toEqual([{ name: 'api', kind: 'http', verdict: 'ok', reason: `HTTP 200 from ${url}`, attempts: 3 }]);
  });

  it('fails the gate on an HTTP probe that never passes, with what it answered', async () => {
    const url = await serve((_request, response) => response.writeHead(503).end());
    const probe: ProbeSpec = { name: 'api', http: { url, status: { low: 200, high: 399 }, timeoutSeconds: 5 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe], timeoutMs: 40_000 }, TRIAL, new HostProbeRunner()).run();
    expect(result).toMatchObject({ healthy: false, reason: `probe api: HTTP 503 from ${url}` });
    expect(result.probes[0]?.verdict).toBe('failed');
  });

  it('retries a command probe that fails until it succeeds', async () => {
    const flag = join(dir(), 'probe-once');
    const probe: ProbeSpec = { name: 'ready', exec: { command: ['/bin/sh', '-c', `test -e ${flag} || { touch ${flag}; echo not yet >&2; exit 3; }`], timeoutSeconds: 10 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe] }, TRIAL, new HostProbeRunner()).run();
    expect(result.healthy).toBe(true);
    expect(result.probes[0]).toMatchObject({ verdict: 'ok', attempts: 2, reason: '/bin/sh: exit status 0' });
  });

  it('fails on a probe that hangs past its timeout, and the hung command is killed', async () => {
    const pidFile = join(dir(), 'hung.pid');
    const probe: ProbeSpec = { name: 'hang', exec: { command: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 600`], timeoutSeconds: 0.2 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe], timeoutMs: 2_000 }, TRIAL, new HostProbeRunner()).run();
    expect(result).toMatchObject({ healthy: false, reason: 'probe hang: /bin/sh: killed after 0.2 s without exiting' });
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('fails on an HTTP probe whose server never answers within the timeout', async () => {
    const url = await serve(() => undefined);
    const probe: ProbeSpec = { name: 'slow', http: { url, status: { low: 200, high: 299 }, timeoutSeconds: 0.2 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe], timeoutMs: 2_000 }, TRIAL, new HostProbeRunner()).run();
    expect(result).toMatchObject({ healthy: false, reason: `probe slow: ${url}: no answer within 0.2 s` });
    server?.closeAllConnections();
  });

  it('does not fail a release for a probe that already failed on the last good boot', async () => {
    const url = await serve((_request, response) => response.writeHead(500).end());
    const probe: ProbeSpec = { name: 'api', http: { url, status: { low: 200, high: 399 }, timeoutSeconds: 5 } };
    const result = await gate({ 'app.service': RUNNING }, { probes: [probe] }, { baseline: { version: '1.0.0', at: '', units: [], probes: ['api'] }, stopOnFailure: true }, new HostProbeRunner()).run();
    expect(result.healthy).toBe(true);
    expect(result.probes[0]).toMatchObject({ verdict: 'pre-existing', reason: `HTTP 500 from ${url} (already so on 1.0.0)` });
  });
});
