// The GRUB environment write planner, checked exhaustively: for every pair of states and every
// operation, a power cut after any write or inside one boots the old or the new choice.

import { describe, expect, it } from 'vitest';
import { fromRuleSlots, grubenvNext, toRuleSlots } from './grubenv-state.ts';
import { STATE_KEYS } from '../../platform/grub/grubenv-flags.ts';
import { isCrashSafe, planWrites, reachableStates, tornValues } from './grubenv-write-plan.ts';
import { markSlotGood, markSlotUnbootable, rollbackFrom, stageSlot } from './slot-rules.ts';
import type { GrubenvState } from '../../platform/grub/grubenv-flags.ts';
import type { PlannedWrite } from './grubenv-write-plan.ts';
import type { RuleSlot } from './slot-rules.ts';

function statesWith(tries: readonly string[]): GrubenvState[] {
  const states: GrubenvState[] = [];
  for (const ORDER of ['A B', 'B A'])
    for (const A_OK of ['0', '1'])
      for (const B_OK of ['0', '1'])
        for (const A_TRY of tries) for (const B_TRY of tries) states.push({ ORDER, A_OK, A_TRY, B_OK, B_TRY });
  return states;
}

const ALL_TRIES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * Checked here without the planner's own code: after each whole write, and with every subset of a
 * write's bytes on disk, the choice is the old or the new one, and not "nothing" unless intended.
 * Returns what went wrong, so the exhaustive loops make one assertion, not millions.
 */
function unsafeStates(from: GrubenvState, to: GrubenvState, writes: readonly PlannedWrite[]): string[] {
  const oldNext = grubenvNext(from);
  const newNext = grubenvNext(to);
  const problems: string[] = [];
  const check = (state: GrubenvState, where: string): void => {
    const next = grubenvNext(state);
    const allowed = next === oldNext || next === newNext;
    if (!allowed || (next === null && oldNext !== null && newNext !== null)) {
      problems.push(`${JSON.stringify(from)} -> ${JSON.stringify(to)}: ${where} boots ${next} in ${JSON.stringify(state)}`);
    }
  };
  let current = { ...from };
  check(current, 'before any write');
  writes.forEach((write, n) => {
    const old = current[write.key];
    for (let mask = 0; mask < 2 ** write.value.length; mask++) {
      const torn = [...write.value].map((c, i) => ((mask >> i) & 1 ? c : old[i])).join('');
      check({ ...current, [write.key]: torn }, `write ${n} (${write.key}) with byte mask ${mask}`);
    }
    current = { ...current, [write.key]: write.value };
  });
  if (STATE_KEYS.some((key) => current[key] !== to[key])) problems.push(`${JSON.stringify(from)} -> ${JSON.stringify(to)}: ends at ${JSON.stringify(current)}`);
  return problems;
}

describe('tornValues', () => {
  it('gives every mix of old and new bytes: ORDER can tear into "B B" or "A A"', () => {
    expect(tornValues('A B', 'B A').sort()).toEqual(['A A', 'A B', 'B A', 'B B']);
    expect(tornValues('0', '7').sort()).toEqual(['0', '7']);
  });
});

describe('reachableStates', () => {
  it('lists the start, each torn value of each write, and each completed write', () => {
    const from: GrubenvState = { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    const states = reachableStates(from, [{ key: 'B_TRY', value: '2' }, { key: 'ORDER', value: 'B A' }]);
    expect(states.map((s) => `${s.ORDER}|${s.B_TRY}`).sort()).toEqual(['A A|2', 'A B|0', 'A B|0', 'A B|2', 'A B|2', 'B A|2', 'B B|2'].sort());
  });
});

describe('planWrites', () => {
  // grubenvNext tells apart only TRY 0, and the rule a slot's digits 1..9 (all bootable alike);
  // 0, 1, 2 and 9 stand for every digit, so all pairs of these states cover every transition.
  it('finds a crash-safe order between every pair of states', () => {
    const states = statesWith(['0', '1', '2', '9']);
    const problems: string[] = [];
    let pairs = 0;
    for (const from of states) {
      for (const to of states) {
        const writes = planWrites(from, to);
        const keys = writes.map((w) => w.key).sort().join();
        if (keys !== STATE_KEYS.filter((key) => from[key] !== to[key]).sort().join()) problems.push(`${JSON.stringify(from)} -> ${JSON.stringify(to)}: writes ${keys}`);
        problems.push(...unsafeStates(from, to, writes));
        pairs++;
      }
    }
    expect(problems).toEqual([]);
    expect(pairs).toBe(128 * 128);
  });

  const operations: [string, (slots: readonly RuleSlot[]) => RuleSlot[]][] = [
    ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((tries): [string, (s: readonly RuleSlot[]) => RuleSlot[]][] => [
      [`stage USR-A with ${tries}`, (s) => stageSlot(s, 'USR-A', tries)],
      [`stage USR-B with ${tries}`, (s) => stageSlot(s, 'USR-B', tries)],
    ]),
    ['mark USR-A good', (s) => markSlotGood(s, 'USR-A')],
    ['mark USR-B good', (s) => markSlotGood(s, 'USR-B')],
    ['mark USR-A unbootable', (s) => markSlotUnbootable(s, 'USR-A')],
    ['mark USR-B unbootable', (s) => markSlotUnbootable(s, 'USR-B')],
    ['roll back from USR-A', (s) => rollbackFrom(s, 'USR-A')],
    ['roll back from USR-B', (s) => rollbackFrom(s, 'USR-B')],
  ];

  it('plans every operation from every state with every tries digit', () => {
    const problems: string[] = [];
    let planned = 0;
    for (const [, operation] of operations) {
      for (const from of statesWith(ALL_TRIES)) {
        let to: GrubenvState;
        try {
          to = fromRuleSlots(operation(toRuleSlots(from)));
        } catch {
          continue; // a rollback to a slot never marked good is refused before any write
        }
        problems.push(...unsafeStates(from, to, planWrites(from, to)));
        planned++;
      }
    }
    expect(problems).toEqual([]);
    expect(planned).toBeGreaterThan(operations.length * 700);
  });

  const good: GrubenvState = { ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '1', B_TRY: '0' };
  const trial: GrubenvState = { ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '3' };

  it('gives tries to a slot before clearing its OK when restaging it, and the reverse when confirming', () => {
    expect(planWrites(good, trial)).toEqual([{ key: 'B_TRY', value: '3' }, { key: 'B_OK', value: '0' }]);
    expect(planWrites(trial, good)).toEqual([{ key: 'B_OK', value: '1' }, { key: 'B_TRY', value: '0' }]);
    // The other order would boot USR-A for one write: the old and the new choice are both USR-B.
    const reversed: PlannedWrite[] = [{ key: 'B_OK', value: '0' }, { key: 'B_TRY', value: '3' }];
    expect(isCrashSafe(good, trial, reversed)).toBe(false);
    expect(unsafeStates(good, trial, reversed)[0]).toContain('write 0 (B_OK) with byte mask 1 boots USR-A');
  });

  it('allows nothing bootable on the way only when that is the result', () => {
    const onlyA: GrubenvState = { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    const none: GrubenvState = { ...onlyA, A_OK: '0' };
    expect(planWrites(onlyA, none)).toEqual([{ key: 'A_OK', value: '0' }]);
    expect(isCrashSafe(onlyA, { ...none, B_TRY: '1' }, [{ key: 'A_OK', value: '0' }, { key: 'B_TRY', value: '1' }])).toBe(false);
  });

  it('writes nothing when nothing changes', () => {
    expect(planWrites(good, good)).toEqual([]);
  });

  it('throws when no order is safe under the boot rule', () => {
    // A made-up rule where either flag alone boots USR-B, though neither end state does.
    const rule = (s: GrubenvState): 'USR-A' | 'USR-B' => (s.A_OK !== s.B_OK ? 'USR-B' : 'USR-A');
    const from: GrubenvState = { ORDER: 'A B', A_OK: '0', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    expect(() => planWrites(from, { ...from, A_OK: '1', B_OK: '1' }, rule)).toThrow(/^no crash-safe write order for the GRUB environment from /);
    expect(planWrites(from, { ...from, A_OK: '1', B_OK: '1' })).toHaveLength(2);
  });
});
