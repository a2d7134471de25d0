// The demo's view: the table, the events between two observations, the timeline and the lock verdict.

import { describe, expect, it } from 'vitest';
import { BREAKER_OFF, idleStatus } from '../test/builders/agent-status.ts';
import { describeHost, diffFleet, lockVerdict, renderFleet, renderTimeline } from './rollout-view.ts';
import type { StatusReport } from '../agent/daemon/agent-status.ts';
import type { FleetView, HostView } from './rollout-view.ts';

function status(overrides: Partial<StatusReport>): StatusReport {
  return { ...idleStatus(), lock: null, firstBoot: null, rebootHooks: [], lastGate: null, breaker: BREAKER_OFF, verity: null, ...overrides };
}

const host = (name: string, s: StatusReport | null, holdsLock = false): HostView => ({ host: name, status: s, holdsLock });
const view = (seconds: number, hosts: HostView[]): FleetView => ({ seconds, hosts, lock: { max: 1, holders: hosts.filter((h) => h.holdsLock).map((h) => h.host) } });

describe('the demo view', () => {
  it('describes downloads with percent and MiB, waiting for the lock, and reboots', () => {
    const downloading = status({ state: 'downloading', target: { version: '1.0.1', slot: 'USR-B' }, progress: { chunksDone: 2, bytesDone: 64 * 1024 * 1024, totalBytes: 256 * 1024 * 1024 } });
    expect(describeHost(host('h', downloading))).toBe('downloading 1.0.1  25% 64/256 MiB');
    const staged = status({ state: 'updated-need-reboot', activity: 'waiting-to-reboot', target: { version: '1.0.1', slot: 'USR-B' } });
    expect(describeHost(host('h', staged))).toBe('staged 1.0.1, waiting for the lock');
    expect(describeHost(host('h', staged, true))).toBe('holds the lock, rebooting into 1.0.1');
    expect(describeHost(host('h', null))).toBe('rebooting / booting…');
    expect(describeHost(host('h', status({ pinned: '1.0.0' })))).toBe('up to date (pinned to 1.0.0)');
    expect(describeHost(host('h', status({ health: 'pending' })))).toBe('health gate running');
  });

  it('renders one row per host and the lock line', () => {
    const lines = renderFleet(view(42, [host('host-1', status({}), true), host('host-2', null)]));
    expect(lines).toEqual([
      '  host     version  slot   lock  state',
      '  host-1   1.0.0    USR-A  HELD  up to date',
      '  host-2   -        -            rebooting / booting…',
      '  reboot lock: held by host-1 (1 of 1)   t+42 s',
    ]);
  });

  it('derives the events of a host that takes the lock, reboots, comes up on the new version and releases', () => {
    const staged = status({ state: 'updated-need-reboot', target: { version: '1.0.1', slot: 'USR-B' } });
    const onTrial = status({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'pending' });
    const confirmed = status({ booted: { slot: 'USR-B', version: '1.0.1' } });
    const steps = [
      view(0, [host('h', status({}))]),
      view(10, [host('h', staged)]),
      view(12, [host('h', staged, true)]),
      view(14, [host('h', null, true)]),
      view(60, [host('h', onTrial, true)]),
      view(70, [host('h', confirmed)]),
    ];
    const events = steps.flatMap((now, i) => diffFleet(steps[i - 1] ?? null, now));
    expect(events.map((e) => `${e.seconds} ${e.what}`)).toEqual([
      '10 staged 1.0.1 in USR-B',
      '12 took the reboot lock',
      '14 went down to reboot',
      '60 came up on 1.0.1 (USR-B)',
      // The gate passed and the lock went back between two looks: the gate comes first.
      '70 passed its health gate on 1.0.1',
      '70 released the reboot lock',
    ]);
    expect(renderTimeline(events.slice(0, 1))).toEqual(['  t+  10 s  h        staged 1.0.1 in USR-B']);
  });

  it("gives one host's release of the lock before another's take of it, whatever the host order", () => {
    const staged = status({ state: 'updated-need-reboot', target: { version: '1.0.1', slot: 'USR-B' } });
    const before = view(0, [host('host-1', staged), host('host-2', staged, true)]);
    const after = view(5, [host('host-1', null, true), host('host-2', staged)]);
    expect(diffFleet(before, after).map((e) => `${e.host} ${e.what}`)).toEqual(['host-2 released the reboot lock', 'host-1 took the reboot lock', 'host-1 went down to reboot']);
  });

  it('reports a failed gate once', () => {
    const failing = status({ booted: { slot: 'USR-B', version: '1.0.2' }, health: 'failed' });
    const first = diffFleet(view(0, [host('h', status({ health: 'pending' }), true)]), view(5, [host('h', failing, true)]));
    const again = diffFleet(view(5, [host('h', failing, true)]), view(10, [host('h', failing, true)]));
    expect(first.map((e) => e.what)).toEqual(['failed its health gate on 1.0.2']);
    expect(again).toEqual([]);
  });

  it('judges the lock history against its max', () => {
    expect(lockVerdict([0, 1, 0, 1, 0], 1)).toBe('lock history: 5 revisions in etcd, never more than 1 holder at once (max 1)');
    expect(lockVerdict([0, 2, 1], 1)).toBe('lock history: 2 holders at once at some revision, more than max 1: the lock was broken');
  });
});
