// The UnitStates contract: what any adapter reports for units in known situations, the same
// expectations a real systemd meets. A harness sets the situations up its own way (the fake's
// properties here; unit files started under real systemd in the VM) and names the units.

import { describe, expect, it } from 'vitest';
import { judgeUnit } from '../../agent/health/unit-judgement.ts';
import type { UnitStates } from '../../agent/health/health-ports.ts';

export interface UnitStatesHarness {
  readonly states: UnitStates;
  /** Each a unit in the situation its key names, as systemd leaves it. */
  readonly units: {
    /** Type=simple, running. */
    readonly running: string;
    /** Restart=always, exits 1 at once, RestartSec long enough to be seen in auto-restart after at least one restart. */
    readonly crashLooping: string;
    /** A unit file that nothing started on this boot. */
    readonly neverStarted: string;
    /** Type=oneshot without RemainAfterExit, ran and exited 0, wanted by a target (as every unit cloud-config enables is). */
    readonly oneshotDone: string;
    /**
     * The same, but nothing references it: systemd unloads an inactive unit nobody refers to, so it
     * reads exactly as one never started. A unit the gate must see has to be wanted by a target.
     */
    readonly unreferencedOneshotDone: string;
    /** Started, but ConditionPathExists= did not hold; wanted by a target. */
    readonly conditionFailed: string;
    /** Type=oneshot, RemainAfterExit=yes, its condition held and it ran. */
    readonly ranWithCondition: string;
    /** Exits 1, no Restart=. */
    readonly failed: string;
    /** No unit file of that name. */
    readonly missing: string;
  };
}

export function unitStatesContract(name: string, harness: () => Promise<UnitStatesHarness>): void {
  describe(`UnitStates contract: ${name}`, () => {
    it('reports a running service as active/running, started, with 0 restarts', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.running);
      expect(state).toMatchObject({ loadState: 'loaded', activeState: 'active', subState: 'running', result: 'success', nRestarts: 0, started: true });
      expect(judgeUnit(state).state).toBe('ok');
    });

    it('reports a crash loop as auto-restart with its restarts counted', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.crashLooping);
      expect(state.activeState).toBe('activating');
      expect(state.subState).toBe('auto-restart');
      expect(state.nRestarts).toBeGreaterThanOrEqual(1);
      expect(judgeUnit(state)).toMatchObject({ state: 'pending', reason: expect.stringMatching(/^crash-looping: auto-restart, \d+ restarts?$/) as unknown });
    });

    it('reports a unit never started on this boot as inactive and not started, its conditions not checked', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.neverStarted);
      expect(state).toMatchObject({ loadState: 'loaded', activeState: 'inactive', subState: 'dead', started: false, condition: 'not-checked' });
      expect(judgeUnit(state)).toEqual({ state: 'pending', reason: 'never started (inactive, dead)' });
    });

    it('reports a oneshot that exited 0 as inactive, started, result success', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.oneshotDone);
      expect(state).toMatchObject({ activeState: 'inactive', subState: 'dead', result: 'success', started: true, condition: 'passed' });
      expect(judgeUnit(state)).toEqual({ state: 'ok', reason: 'exited successfully' });
    });

    it('reports a oneshot that ran but that nothing references as never started: systemd forgot it', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.unreferencedOneshotDone);
      expect(state).toMatchObject({ loadState: 'loaded', activeState: 'inactive', subState: 'dead', started: false, condition: 'not-checked' });
      expect(judgeUnit(state)).toEqual({ state: 'pending', reason: 'never started (inactive, dead)' });
    });

    it('reports a unit whose condition failed as condition failed and not started', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.conditionFailed);
      expect(state).toMatchObject({ activeState: 'inactive', condition: 'failed', started: false });
      expect(judgeUnit(state).state).toBe('ok');
    });

    it('reports a unit that ran because its condition held as condition passed', async () => {
      const { states, units } = await harness();
      expect(await states.unitState(units.ranWithCondition)).toMatchObject({ activeState: 'active', subState: 'exited', condition: 'passed', started: true });
    });

    it('reports a failed service with its result', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.failed);
      expect(state).toMatchObject({ activeState: 'failed', subState: 'failed', result: 'exit-code', started: true });
      expect(judgeUnit(state)).toEqual({ state: 'failed', reason: 'failed (exit-code)' });
    });

    it('reports a unit without a file as not-found', async () => {
      const { states, units } = await harness();
      const state = await states.unitState(units.missing);
      expect(state).toMatchObject({ loadState: 'not-found', activeState: 'inactive', started: false });
      expect(judgeUnit(state).state).toBe('pending');
    });

    it('reports a target without service properties', async () => {
      const { states } = await harness();
      expect(await states.unitState('multi-user.target')).toMatchObject({ loadState: 'loaded', activeState: 'active', result: null, nRestarts: null });
    });
  });
}
