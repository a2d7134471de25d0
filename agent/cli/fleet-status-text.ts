// `slipway fleet status` for a terminal: one line per release, then its failures and halt, the reboot
// places' holders, and the hosts that went quiet.

import type { FleetOverview, HostRow } from '../fleet/fleet-overview.ts';

function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h${minutes % 60 ? `${minutes % 60}m` : ''}` : `${Math.floor(hours / 24)}d${hours % 24 ? `${hours % 24}h` : ''}`;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_c, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

function quietLine(h: HostRow): string {
  return `  ${h.host} (${h.machineId}): last seen ${h.lastSeen}${h.silentForMs === null ? ' (unreadable time)' : `, ${duration(h.silentForMs)} ago`}, at ${h.version}`;
}

export function fleetStatusText(o: FleetOverview): string {
  const lines = [`${o.group === '' ? 'default group' : `group ${o.group}`}: ${o.hosts.length} hosts reporting, ${o.lock.holders.length} of ${o.lock.max} reboot places held (at ${o.at})`];
  if (o.versions.length > 0) {
    const rows = [['VERSION', 'RUNNING', 'STAGED', 'WAITING', 'FAILED', 'ROLLOUT']];
    for (const v of o.versions) {
      const state = v.halt?.state === 'halted' ? `HALTED by ${v.halt.by}` : v.halt?.state === 'resumed' ? `resumed by ${v.halt.by}` : 'open';
      rows.push([v.version, String(v.running), String(v.staged), String(v.waitingForWave), String(v.failures.length), state]);
    }
    lines.push('', ...table(rows));
  }
  for (const v of o.versions) {
    if (v.halt === null && v.failures.length === 0 && v.nextWaveAt === null) continue;
    lines.push('', `${v.version}:`);
    if (v.halt !== null) lines.push(`  ${v.halt.state} by ${v.halt.by} at ${v.halt.at}: ${v.halt.reason}`);
    if (v.nextWaveAt !== null) lines.push(`  ${v.waitingForWave} waiting for their wave, the next at ${v.nextWaveAt}`);
    for (const f of v.failures) lines.push(`  ${f.host} ${f.result} at ${f.at}${f.reason === null ? '' : `: ${f.reason}`}`);
    if (v.forgiven > 0) lines.push(`  (${v.forgiven} failures before the resume no longer count)`);
  }
  lines.push('', `reboot places (${o.lock.holders.length} of ${o.lock.max}, ${o.lock.key}):`);
  if (o.lock.holders.length === 0) lines.push('  none held');
  for (const h of o.lock.holders) {
    const detail = h.host === null ? 'no record (plain locksmith holder)' : `${h.host}, since ${h.since ?? '?'}, to ${h.targetVersion ?? '?'}${h.expires === 'never' ? ', until released' : h.expires !== null ? `, until ${h.expires}` : ''}${h.alive === false ? ', EXPIRED (reclaimable)' : ''}`;
    lines.push(`  ${h.id} [${h.kind}]: ${detail}`);
  }
  lines.push('', `quiet for over ${duration(o.quietAfterMs)}:`);
  if (o.quiet.length === 0) lines.push('  none');
  lines.push(...o.quiet.map(quietLine));
  return `${lines.join('\n')}\n`;
}
