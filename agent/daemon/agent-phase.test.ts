// The agent's phase table, every phase against every event: the legal moves land where the spec
// below says, every other one is refused with ERR_AGENT_PHASE; what each phase reports; and the
// drawing in docs/agent.md has exactly these moves.

import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { AgentError } from './agent-errors.ts';
import { AGENT_PHASE_EVENTS, AGENT_PHASES, nextPhase, rebootPending, reportedPhase } from './agent-phase.ts';
import type { AgentPhase } from './agent-phase.ts';

/** The spec, one legal move a line: "phase event next". */
const LEGAL = `
  starting trial-boot health-gate
  starting confirmed-boot idle
  starting booted-slot-unknown slot-unknown
  health-gate gate-passed idle
  health-gate gate-failed rolling-back
  idle check-started checking
  idle reboot-requested waiting-to-reboot
  checking check-finished idle
  waiting-to-reboot check-started checking-while-waiting
  waiting-to-reboot reboot-started rebooting
  waiting-to-reboot reboot-abandoned idle
  checking-while-waiting check-finished waiting-to-reboot
  checking-while-waiting reboot-started rebooting
  checking-while-waiting reboot-abandoned checking
  rebooting check-started rebooting
  rebooting check-finished rebooting
  rolling-back reboot-requested rollback-waiting-to-reboot
  rollback-waiting-to-reboot reboot-started rollback-rebooting
  rollback-waiting-to-reboot reboot-abandoned rolled-back
  rolled-back reboot-requested rollback-waiting-to-reboot
  rolling-back rollback-impossible rolled-back
`;

const legal = new Map(
  LEGAL.trim()
    .split('\n')
    .map((line) => line.trim().split(' '))
    .map(([from, event, to]) => [`${from} ${event}`, to]),
);

const cases = AGENT_PHASES.flatMap((phase) => AGENT_PHASE_EVENTS.map((event) => [phase, event, legal.get(`${phase} ${event}`) ?? null] as const));

describe('agent phase table', () => {
  it('names only phases and events that exist', () => {
    for (const [key, to] of legal) {
      const [from, event] = key.split(' ');
      expect(AGENT_PHASES).toContain(from);
      expect(AGENT_PHASE_EVENTS).toContain(event);
      expect(AGENT_PHASES).toContain(to);
    }
  });

  it.each(cases.filter(([, , to]) => to !== null))('%s --%s--> %s', (phase, event, to) => {
    expect(nextPhase(phase, event)).toBe(to);
  });

  it.each(cases.filter(([, , to]) => to === null))('refuses %s in %s', (phase, event) => {
    let thrown: unknown = null;
    try {
      nextPhase(phase, event);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AgentError);
    expect(thrown).toMatchObject({ code: 'ERR_AGENT_PHASE', message: `agent phase machine: "${event}" is not allowed in phase "${phase}"` });
  });

  it('reaches every phase from starting', () => {
    const seen = new Set<AgentPhase>(['starting']);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [key, to] of legal) {
        if (seen.has(key.split(' ')[0] as AgentPhase) && !seen.has(to as AgentPhase)) {
          seen.add(to as AgentPhase);
          grew = true;
        }
      }
    }
    expect([...seen].sort()).toEqual([...AGENT_PHASES].sort());
  });
});

describe('what a phase reports', () => {
  it('keeps the activity and health values slipway status has always shown', () => {
    expect(Object.fromEntries(AGENT_PHASES.map((phase) => [phase, reportedPhase(phase)]))).toEqual({
      starting: { activity: 'idle', health: 'pending' },
      'slot-unknown': { activity: 'slot-unknown', health: 'unknown' },
      'health-gate': { activity: 'health-gate', health: 'pending' },
      idle: { activity: 'idle', health: 'confirmed' },
      checking: { activity: 'checking', health: 'confirmed' },
      'waiting-to-reboot': { activity: 'waiting-to-reboot', health: 'confirmed' },
      'checking-while-waiting': { activity: 'checking', health: 'confirmed' },
      rebooting: { activity: 'rebooting', health: 'confirmed' },
      'rolling-back': { activity: 'rolling-back', health: 'failed' },
      'rollback-waiting-to-reboot': { activity: 'waiting-to-reboot', health: 'failed' },
      'rollback-rebooting': { activity: 'rebooting', health: 'failed' },
      'rolled-back': { activity: 'idle', health: 'failed' },
    });
  });

  it('counts a reboot as pending from its request until the process ends', () => {
    expect(AGENT_PHASES.filter(rebootPending)).toEqual(['waiting-to-reboot', 'checking-while-waiting', 'rebooting', 'rollback-waiting-to-reboot', 'rollback-rebooting']);
    for (const phase of AGENT_PHASES) {
      // A pending reboot is never asked for twice, and only a pending one can start or be abandoned.
      if (rebootPending(phase)) expect(legal.has(`${phase} reboot-requested`)).toBe(false);
      if (legal.has(`${phase} reboot-started`) || legal.has(`${phase} reboot-abandoned`)) expect(rebootPending(phase)).toBe(true);
    }
  });
});

describe('docs/agent.md', () => {
  it('draws exactly the moves of the table', async () => {
    const doc = await readFile(new URL('../../docs/agent.md', import.meta.url), 'utf8');
    const drawing = /```mermaid\nstateDiagram-v2\n([\s\S]*?)```/.exec(doc.slice(doc.indexOf('## Phases')));
    expect(drawing).not.toBeNull();
    const drawn = new Map<string, string>();
    for (const line of (drawing?.[1] ?? '').split('\n')) {
      const move = /^\s*(\w+) --> (\w+): ([a-z-]+)/.exec(line);
      if (move === null) continue;
      const [, from = '', to = '', event = ''] = move;
      drawn.set(`${from.replaceAll('_', '-')} ${event}`, to.replaceAll('_', '-'));
    }
    expect(Object.fromEntries(drawn)).toEqual(Object.fromEntries(legal));
  });
});
