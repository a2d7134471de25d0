// The health gate's memory on real files: the baseline written on a confirmed boot and by a passed
// gate, keyed by version; a torn file ignored with a warning; the last gate kept across restarts.

import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootHealth } from '../../agent/health/boot-health.ts';
import { BASELINE_FILE, FileHealthStore, LAST_GATE_FILE } from '../../agent/health-io/health-files.ts';
import { useTempDir } from '../builders/coreos-disk.ts';
import { RUNNING, ScriptedUnits } from '../fakes/scripted-units.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { UnitState } from '../../agent/health/health-ports.ts';

const dir = useTempDir(null);
let counter = 0;
const BROKEN: UnitState = { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'exit-code' };

function health(stateDir: string, script: Record<string, UnitState>, logs: string[] = []) {
  const clock = new TestClock('2026-11-22T12:00:00Z');
  return new BootHealth({
    units: new ScriptedUnits(clock, script),
    probes: { run: () => Promise.resolve({ ok: true, detail: 'fine' }) },
    clock,
    store: new FileHealthStore(stateDir),
    settings: { timeoutMs: 60_000, pollMs: 2_000, settleMs: 10_000, criticalUnits: [], workloadUnits: ['app.service', 'legacy.service'], probes: [] },
    log: (_fields, message) => logs.push(message),
  });
}

describe('the health baseline and the last gate, on files', () => {
  it('keeps what a confirmed boot found broken, keyed by its version, and a passed gate carries it on under its own', async () => {
    const stateDir = join(dir(), `state-${counter++}`);
    const baseline = await health(stateDir, { 'app.service': RUNNING, 'legacy.service': BROKEN }).measureBaseline('1.0.0');
    expect(baseline).toEqual({ version: '1.0.0', at: '2026-11-22T12:01:00.000Z', units: ['legacy.service'], probes: [] });
    expect(JSON.parse(await readFile(join(stateDir, BASELINE_FILE), 'utf8'))).toEqual(baseline);

    const next = health(stateDir, { 'app.service': RUNNING, 'legacy.service': BROKEN });
    const verdict = await next.gate('1.0.1', '1.0.0');
    expect(verdict).toMatchObject({ kind: 'gate', version: '1.0.1', baselineVersion: '1.0.0', healthy: true });
    expect(next.baseline()).toMatchObject({ version: '1.0.1', units: ['legacy.service'] });
    // A restarted agent reads the verdict back for its status.
    const restarted = health(stateDir, {});
    await restarted.load();
    expect(restarted.lastGate()).toEqual(verdict);
    expect(JSON.parse(await readFile(join(stateDir, LAST_GATE_FILE), 'utf8'))).toEqual(verdict);
  });

  it('ignores a torn baseline with a warning, and blames the release for everything', async () => {
    const stateDir = join(dir(), `state-${counter++}`);
    await health(stateDir, { 'app.service': RUNNING }).measureBaseline('1.0.0');
    await writeFile(join(stateDir, BASELINE_FILE), '{"version": "1.0.0", "units": [');
    const logs: string[] = [];
    const verdict = await health(stateDir, { 'app.service': RUNNING, 'legacy.service': BROKEN }, logs).gate('1.0.1', '1.0.0');
    expect(verdict).toMatchObject({ healthy: false, baselineVersion: null, reason: 'legacy.service failed (exit-code)' });
    expect(logs[0]).toMatch(new RegExp(`^${join(stateDir, BASELINE_FILE)} is not JSON \\(.+\\); ignored$`));
  });
});
