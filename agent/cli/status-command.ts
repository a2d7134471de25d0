// `slipway status`: both slots with versions and booted/next markers, the pin, the update state
// and progress, what the health gate found, the last and next check, the next reboot window.

import { UsageError } from './cli-error.ts';
import { parseCommand, withControl } from './agent-command-kit.ts';
import { formatBytes } from './progress-bar.ts';
import type { BreakerView } from '../fleet/fleet-agent.ts';
import type { AgentCommandDeps } from './agent-command-kit.ts';
import { notableItems } from '../health/gate-verdict.ts';
import { describeWait } from '../update/rollout-wave.ts';
import type { LockView, StatusReport } from '../daemon/agent-status.ts';
import type { GateVerdict } from '../health/gate-verdict.ts';

export const STATUS_USAGE = `usage: slipway status [--json]
Shows what the running agent knows: slots, versions, state, progress, pin, checks, a release waiting for
this host's rollout wave, and the next reboot window.`;

export function formatLock(lock: LockView): string {
  if (lock === null) return 'none (the strategy uses no lock)';
  if ('error' in lock) return `unknown: ${lock.error}`;
  const holders = lock.holders.length === 0 ? 'free' : `held by ${lock.holders.join(', ')}${lock.heldByThisHost ? ' (this host)' : ''}`;
  return `${holders}; ${lock.holders.length} of ${lock.max} places taken`;
}

/** The health gate's outcome and a line per failed, pre-existing or pending item; nothing for a gate that passed with everything ok. */
export function formatGate(gate: GateVerdict | null | undefined): string[] {
  // An agent from before the verdict was reported sends none.
  if (gate === null || gate === undefined) return [];
  const items = notableItems(gate);
  if (gate.healthy === true && items.length === 0) return [];
  const outcome = gate.healthy === null ? `running since ${gate.startedAt}` : `${gate.healthy ? 'passed' : 'failed'} at ${gate.finishedAt ?? '?'}`;
  return [`Health gate: ${gate.version} ${outcome}`, ...items.map((i) => `  ${i.name}: ${i.verdict}: ${i.reason}`)];
}

/** The circuit breaker: off without etcd, or on with its thresholds and the halts of the releases found or staged here. */
export function formatBreaker(breaker: BreakerView | undefined): string[] {
  // An agent from before the breaker reports none.
  if (breaker === undefined) return [];
  if (breaker.state === 'off') return [`Circuit breaker: off (${breaker.reason})`];
  const lines = [`Circuit breaker: on; halts a release at ${breaker.failures} failed hosts and ${Math.round(breaker.fraction * 100)}% of those that tried it`];
  if (breaker.error !== null) lines.push(`  cannot read it now: ${breaker.error}`);
  for (const halt of breaker.halted) lines.push(`  ${halt.version} halted by ${halt.by} at ${halt.at}: ${halt.reason}`);
  return lines;
}

export function formatStatus(status: StatusReport): string {
  const lines: string[] = [];
  const health = status.health === 'confirmed' || status.health === 'unknown' ? '' : ` (health gate ${status.health})`;
  lines.push(`State: ${status.state}${status.activity === 'idle' ? '' : `, ${status.activity}`}${health}`);
  if (status.firstBoot) {
    const since = status.firstBoot.at === '' ? '' : ` (since ${status.firstBoot.at})`;
    lines.push(`First boot: cloud-config not applied${since}: ${status.firstBoot.message} [${status.firstBoot.code}]; slipway-cloudinit.service tries again at the next boot`);
  }
  lines.push(...formatGate(status.lastGate));
  if (status.bootedUnknown) {
    lines.push(`Running slot: unknown, so updates and slot changes are refused: ${status.bootedUnknown.message} [${status.bootedUnknown.code}]`);
  }
  if (status.progress && status.target) {
    lines.push(`  ${status.target.version} into ${status.target.slot}: ${formatBytes(status.progress.bytesDone)} of ${formatBytes(status.progress.totalBytes)}`);
  }
  lines.push('Slots:');
  for (const slot of status.slots) {
    const marks = [slot.booted ? 'booted' : '', slot.next ? 'next' : '', slot.successful ? 'good' : slot.priority > 0 ? `on trial, ${slot.tries} tries left` : 'not bootable'].filter((m) => m !== '');
    lines.push(`${slot.booted ? '●' : ' '} ${slot.name}  ${(slot.version ?? 'unknown').padEnd(10)} ${marks.join(', ')}`);
  }
  // An agent from before dm-verity sends none.
  if (status.verity) lines.push(`Root: ${status.verity.verified ? 'verified' : 'NOT verified'}: ${status.verity.detail}`);
  if (status.pinned) lines.push(`Pinned: ${status.pinned}`);
  for (const skipped of status.skipped) {
    const count = skipped.failures === 0 ? '' : `; ${skipped.failures} failure${skipped.failures === 1 ? '' : 's'} charged to it`;
    lines.push(`Skipped: ${skipped.version} (${skipped.reason}${count}; slipway unskip ${skipped.version} gives it another chance)`);
  }
  // An agent from before waves sends none.
  if (status.wave) lines.push(`Waiting: ${describeWait(status.wave)}; slipway update --now takes it at once`);
  lines.push(`Last check: ${status.lastCheck ? `${status.lastCheck.at} (${status.lastCheck.result})` : 'never'}`);
  if (status.lastError) lines.push(`Last error: ${status.lastError.code}: ${status.lastError.message}`);
  lines.push(`Next check: ${status.nextCheck ?? 'none scheduled'}`);
  lines.push(`Reboot strategy: ${status.strategy}; next window: ${status.nextWindow ?? 'any time'}`);
  lines.push(`Reboot lock: ${formatLock(status.lock)}`);
  lines.push(...formatBreaker(status.breaker));
  for (const run of status.rebootHooks.filter((r) => r.failed !== null)) {
    const effect = run.kind === 'before' ? 'the reboot is postponed and the lock given back' : 'reported only; the lock was given back';
    lines.push(`Reboot hook ${run.kind} (at ${run.at}): ${run.failed?.unit ?? ''} ${run.failed?.reason ?? ''}; ${effect}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runStatus(argv: readonly string[], deps: AgentCommandDeps): Promise<number> {
  const parsed = parseCommand(argv, STATUS_USAGE, {}, deps.io);
  if (parsed === null) return 0;
  if (parsed.positionals.length > 0) throw new UsageError(STATUS_USAGE);
  const status = await withControl(deps, (control) => control.status());
  deps.io.stdout(parsed.values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return 0;
}
