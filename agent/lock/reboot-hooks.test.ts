// The reboot hooks under a test clock: units in order, the first failure stops the run, a unit that
// overruns its bound is stopped, one that cannot be started is a failure too, and the last run of
// each kind is kept for status.

import { describe, expect, it } from 'vitest';
import { RebootHooks } from './reboot-hooks.ts';
import { TestClock } from '../../test/fakes/test-clock.ts';
import type { HookUnits } from './reboot-hooks.ts';

/** Each unit's job result; "hang" never ends, "throw" cannot be started. */
function units(results: Record<string, string>): HookUnits & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    start: (name) => {
      calls.push(`start ${name}`);
      const result = results[name] ?? 'done';
      if (result === 'hang') return new Promise<string>(() => undefined);
      if (result === 'throw') return Promise.reject(new Error(`Unit ${name} not found.`));
      return Promise.resolve(result);
    },
    stop: (name) => (calls.push(`stop ${name}`), Promise.resolve('done')),
  };
}

const hooks = (u: HookUnits, clock = new TestClock('2026-12-03T10:00:00Z')): RebootHooks => new RebootHooks({ units: u, clock, timeoutMs: 600_000, log: () => undefined });

describe('RebootHooks', () => {
  it('runs every unit in order and keeps the run for status', async () => {
    const u = units({});
    const h = hooks(u);
    expect(await h.run('before', ['lb-remove.service', 'drain.service'])).toEqual({ kind: 'before', at: '2026-12-03T10:00:00.000Z', failed: null });
    expect(u.calls).toEqual(['start lb-remove.service', 'start drain.service']);
    expect(h.last()).toEqual([{ kind: 'before', at: '2026-12-03T10:00:00.000Z', failed: null }]);
  });

  it('stops at the first unit whose job does not end "done", naming it and the result', async () => {
    const u = units({ 'lb-remove.service': 'failed' });
    expect((await hooks(u).run('before', ['lb-remove.service', 'drain.service'])).failed).toEqual({ unit: 'lb-remove.service', reason: 'ended "failed" (see journalctl -u lb-remove.service)' });
    expect(u.calls).toEqual(['start lb-remove.service']);
  });

  it('stops a unit that runs past the bound, and counts it failed', async () => {
    const u = units({ 'drain.service': 'hang' });
    const clock = new TestClock('2026-12-03T10:00:00Z');
    expect((await hooks(u, clock).run('before', ['drain.service'])).failed).toEqual({ unit: 'drain.service', reason: 'ran past reboot.hook_timeout (600 s) and was stopped' });
    expect(u.calls).toEqual(['start drain.service', 'stop drain.service']);
    expect(clock.sleeps).toEqual([600_000]);
  });

  it('counts a unit that cannot be started as failed', async () => {
    const u = units({ 'missing.service': 'throw' });
    expect((await hooks(u).run('after-healthy', ['missing.service'])).failed).toEqual({ unit: 'missing.service', reason: 'could not be started: Unit missing.service not found.' });
  });

  it('keeps no run when no hook is configured', async () => {
    const h = hooks(units({}));
    await h.run('after-healthy', []);
    expect(h.last()).toEqual([]);
  });
});
