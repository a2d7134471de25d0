// What the demo shows, as pure functions of what it observed: a table of the fleet now (per host:
// version, what the agent is doing, download progress, who holds the lock), the events that happened
// between two observations, and the final timeline. No I/O here, so it is tested on its own.

import type { StatusReport } from '../agent/daemon/agent-status.ts';

export interface HostView {
  readonly host: string;
  /** null while the agent cannot be asked (the host is rebooting or booting). */
  readonly status: StatusReport | null;
  readonly holdsLock: boolean;
}

export interface FleetView {
  readonly seconds: number;
  readonly hosts: readonly HostView[];
  readonly lock: { readonly max: number; readonly holders: readonly string[] };
}

export interface TimelineEvent {
  readonly seconds: number;
  readonly host: string;
  readonly what: string;
}

const MIB = 1024 * 1024;

/** One short phrase for what the host is doing. */
export function describeHost(view: HostView): string {
  const status = view.status;
  if (status === null) return 'rebooting / booting…';
  if (status.health === 'pending') return 'health gate running';
  if (status.health === 'failed') return 'health gate failed, rolling back';
  if (status.state === 'downloading' && status.progress) {
    const { bytesDone, totalBytes } = status.progress;
    const percent = totalBytes > 0 ? Math.floor((bytesDone / totalBytes) * 100) : 0;
    return `downloading ${status.target?.version ?? ''} ${String(percent).padStart(3)}% ${(bytesDone / MIB).toFixed(0)}/${(totalBytes / MIB).toFixed(0)} MiB`;
  }
  if (status.state === 'updated-need-reboot') {
    if (status.activity === 'rebooting') return `rebooting into ${status.target?.version ?? '?'}`;
    return view.holdsLock ? `holds the lock, rebooting into ${status.target?.version ?? '?'}` : `staged ${status.target?.version ?? '?'}, waiting for the lock`;
  }
  if (status.state === 'checking' || status.state === 'update-available') return 'checking for updates';
  if (status.state === 'verifying' || status.state === 'finalizing') return `verifying ${status.target?.version ?? ''}`;
  if (status.pinned !== null) return `up to date (pinned to ${status.pinned})`;
  return 'up to date';
}

export function renderFleet(view: FleetView): string[] {
  const lines = [`  ${'host'.padEnd(8)} ${'version'.padEnd(8)} ${'slot'.padEnd(6)} ${'lock'.padEnd(5)} state`];
  for (const host of view.hosts) {
    const version = host.status?.booted.version ?? '-';
    const slot = host.status?.booted.slot ?? '-';
    lines.push(`  ${host.host.padEnd(8)} ${version.padEnd(8)} ${slot.padEnd(6)} ${(host.holdsLock ? 'HELD' : '').padEnd(5)} ${describeHost(host)}`);
  }
  const holders = view.lock.holders.length === 0 ? 'free' : `held by ${view.lock.holders.join(', ')}`;
  lines.push(`  reboot lock: ${holders} (${view.lock.holders.length} of ${view.lock.max})   t+${view.seconds.toFixed(0)} s`);
  return lines;
}

/**
 * The events between two observations of the fleet, in the order they must have happened: what the
 * hosts did on their own (came up, downloaded, staged, passed or failed the gate), then the places
 * given back, then the places taken, then the hosts going down; host by host within each.
 */
export function diffFleet(before: FleetView | null, after: FleetView): TimelineEvent[] {
  const phases: TimelineEvent[][] = [[], [], [], []];
  for (const now of after.hosts) {
    const was = before?.hosts.find((h) => h.host === now.host) ?? null;
    const add = (phase: number, what: string): void => void phases[phase]?.push({ seconds: after.seconds, host: now.host, what });
    const a = was?.status ?? null;
    const b = now.status;
    if (b !== null) {
      if (a === null && was !== null) add(0, `came up on ${b.booted.version} (${b.booted.slot})`);
      if (b.state === 'downloading' && a?.state !== 'downloading') add(0, `started downloading ${b.target?.version ?? ''}`.trim());
      if (b.state === 'updated-need-reboot' && a?.state !== 'updated-need-reboot') add(0, `staged ${b.target?.version ?? ''} in ${b.target?.slot ?? ''}`.trim());
      if (b.health === 'confirmed' && a?.health === 'pending') add(0, `passed its health gate on ${b.booted.version}`);
      if (b.health === 'failed' && a?.health !== 'failed') add(0, `failed its health gate on ${b.booted.version}`);
    }
    if (was?.holdsLock && !now.holdsLock) add(1, 'released the reboot lock');
    if (!was?.holdsLock && now.holdsLock) add(2, 'took the reboot lock');
    if (a !== null && b === null) add(3, 'went down to reboot');
  }
  return phases.flat();
}

export function renderTimeline(events: readonly TimelineEvent[]): string[] {
  return events.map((e) => `  t+${e.seconds.toFixed(0).padStart(4)} s  ${e.host.padEnd(8)} ${e.what}`);
}

/** The verdict on the lock's whole etcd history. */
export function lockVerdict(holdersPerRevision: readonly number[], max: number): string {
  const most = Math.max(0, ...holdersPerRevision);
  return most <= max
    ? `lock history: ${holdersPerRevision.length} revisions in etcd, never more than ${most} holder${most === 1 ? '' : 's'} at once (max ${max})`
    : `lock history: ${most} holders at once at some revision, more than max ${max}: the lock was broken`;
}
