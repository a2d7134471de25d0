// The agent's own phases (health gate, checks, reboots) as one in-memory state machine: the phases,
// the events that move between them, the one table of legal moves, and what each phase reports. Pure.

import { AgentError } from './agent-errors.ts';
import type { Activity, BootHealth } from './agent-status.ts';

export const AGENT_PHASES = [
  /** Reading the record and the boot flags; no status yet. */
  'starting',
  /** No fact says which slot is running: every update and slot change is refused; status and pins still answer. */
  'slot-unknown',
  /** The booted slot is on trial: waiting for the health gate's verdict. */
  'health-gate',
  /** Confirmed boot, nothing running. */
  'idle',
  /** A check (and maybe a download) is running. */
  'checking',
  /** A reboot awaits the fleet lock (and window), or arms the staged slot holding it. */
  'waiting-to-reboot',
  /** A check runs while a reboot awaits the lock: the reboot is still owed after it. */
  'checking-while-waiting',
  /** logind was asked to reboot: the host is going down. */
  'rebooting',
  /** The health gate failed: the version is skipped and the other slot made the next boot. */
  'rolling-back',
  /** After a failed gate: the reboot back to the good slot (the lock is still ours). */
  'rollback-waiting-to-reboot',
  /** After a failed gate: logind was asked to reboot back. */
  'rollback-rebooting',
  /** After a failed gate, the reboot back did not happen: the bad release runs until someone reboots. */
  'rolled-back',
] as const;
export type AgentPhase = (typeof AGENT_PHASES)[number];

export const AGENT_PHASE_EVENTS = [
  /** start(): the booted slot is not marked good yet. */
  'trial-boot',
  /** start(): the booted slot is marked good. */
  'confirmed-boot',
  /** start(): neither the command line, the mounted /usr nor the operator says which slot is running. */
  'booted-slot-unknown',
  'gate-passed',
  'gate-failed',
  'check-started',
  /** The check ended, whether it succeeded or not. */
  'check-finished',
  /** A reboot was asked for (staged update, rollback) and none is pending. */
  'reboot-requested',
  /** The lock is held (or not needed) and logind was asked to reboot. */
  'reboot-started',
  /** No reboot came of the request: strategy off, cancelled (no longer staged), or failed. */
  'reboot-abandoned',
  /** The gate failed but the other slot is not good either: nothing to reboot into, so no reboot. */
  'rollback-impossible',
] as const;
export type AgentPhaseEvent = (typeof AGENT_PHASE_EVENTS)[number];

/**
 * Every legal move; an event missing from a phase's row is a bug in the caller. Change this table
 * together with the drawing in docs/agent.md.
 */
const TRANSITIONS: { readonly [P in AgentPhase]: Readonly<Partial<Record<AgentPhaseEvent, AgentPhase>>> } = {
  starting: { 'trial-boot': 'health-gate', 'confirmed-boot': 'idle', 'booted-slot-unknown': 'slot-unknown' },
  // Left only by a restart with a fact that names the slot: guessing here could overwrite the running OS.
  'slot-unknown': {},
  'health-gate': { 'gate-passed': 'idle', 'gate-failed': 'rolling-back' },
  idle: { 'check-started': 'checking', 'reboot-requested': 'waiting-to-reboot' },
  checking: { 'check-finished': 'idle' },
  'waiting-to-reboot': { 'check-started': 'checking-while-waiting', 'reboot-started': 'rebooting', 'reboot-abandoned': 'idle' },
  // Only a reboot that arms nothing (an operator's rollback) can start or end during a check: arming
  // waits for the check to finish.
  'checking-while-waiting': { 'check-finished': 'waiting-to-reboot', 'reboot-started': 'rebooting', 'reboot-abandoned': 'checking' },
  // A check still running, or queued before logind was asked, may finish; the host is going down.
  rebooting: { 'check-started': 'rebooting', 'check-finished': 'rebooting' },
  'rolling-back': { 'reboot-requested': 'rollback-waiting-to-reboot', 'rollback-impossible': 'rolled-back' },
  'rollback-waiting-to-reboot': { 'reboot-started': 'rollback-rebooting', 'reboot-abandoned': 'rolled-back' },
  'rollback-rebooting': {},
  'rolled-back': { 'reboot-requested': 'rollback-waiting-to-reboot' },
};

/** What each phase reports as `activity` and `health` (slipway status, D-Bus, metrics). */
const REPORTED: { readonly [P in AgentPhase]: { readonly activity: Activity; readonly health: BootHealth } } = {
  // Never reported: status() refuses until start() has left this phase.
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
};

/** Phases in which a reboot is under way: a second request adds nothing (the pending one goes on). */
const REBOOT_PENDING: ReadonlySet<AgentPhase> = new Set(['waiting-to-reboot', 'checking-while-waiting', 'rebooting', 'rollback-waiting-to-reboot', 'rollback-rebooting']);

/** The phase `event` leads to from `phase`; throws ERR_AGENT_PHASE for a move the table does not have. */
export function nextPhase(phase: AgentPhase, event: AgentPhaseEvent): AgentPhase {
  const next = TRANSITIONS[phase][event];
  if (next === undefined) throw new AgentError('ERR_AGENT_PHASE', `agent phase machine: "${event}" is not allowed in phase "${phase}"`);
  return next;
}

export function reportedPhase(phase: AgentPhase): { readonly activity: Activity; readonly health: BootHealth } {
  return REPORTED[phase];
}

export function rebootPending(phase: AgentPhase): boolean {
  return REBOOT_PENDING.has(phase);
}
