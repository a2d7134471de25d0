// The demo's view of a fleet: what each host is shown doing, which events two observations imply
// and in what order, and the verdict on the lock's etcd history.

import { describe, expect, it } from 'vitest';
import { describeHost, diffFleet, lockVerdict, renderFleet } from './rollout-view.ts';
import type { FleetView, HostView } from './rollout-view.ts';
import type { StatusReport } from '../agent/daemon/agent-status.ts';

const MIB = 1024 * 1024;

function status(over: Partial<StatusReport> = {}): StatusReport {
  return {
    state: 'idle',
    activity: 'idle',
    progress: null,
    booted: { slot: 'USR-A', version: '1.0.0' },
    slots: [],
    target: null,
    pinned: null,
    skipped: [],
    lastCheck: null,
    lastError: null,
    health: 'confirmed',
    strategy: 'etcd-lock',
    nextCheck: null,
    nextWindow: null,
    lock: null,
    ...over,
  };
}

const host = (s: StatusReport | null, holdsLock = false): HostView => ({ host: 'host-1', status: s, holdsLock });
const fleet = (seconds: number, view: HostView): FleetView => ({
  seconds,
  hosts: [view],
  lock: { max: 1, holders: view.holdsLock ? ['host-1'] : [] },
});
const staged = status({ state: 'updated-need-reboot', target: { version: '1.0.1', slot: 'USR-B' } });

describe('describeHost', () => {
  it('shows download progress as a percentage and MiB', () => {
    const downloading = status({
      state: 'downloading',
      target: { version: '1.0.1', slot: 'USR-B' },
      progress: { chunksDone: 15, bytesDone: 60 * MIB, totalBytes: 240 * MIB },
    });
    expect(describeHost(host(downloading))).toBe('downloading 1.0.1  25% 60/240 MiB');
  });

  it('tells a staged host waiting for the lock from one that holds it', () => {
    expect(describeHost(host(staged))).toBe('staged 1.0.1, waiting for the lock');
    expect(describeHost(host(staged, true))).toBe('holds the lock, rebooting into 1.0.1');
  });

  it('says a host that cannot be asked is rebooting, and names a pin', () => {
    expect(describeHost(host(null))).toBe('rebooting / booting…');
    expect(describeHost(host(status({ pinned: '1.0.0' })))).toBe('up to date (pinned to 1.0.0)');
    expect(describeHost(host(status({ health: 'pending' })))).toBe('health gate running');
  });
});

describe('diffFleet', () => {
  it('tells a whole reboot under the lock in the order it happens', () => {
    const observed = [
      fleet(0, host(status())),
      fleet(10, host(staged)),
      fleet(20, host(staged, true)),
      fleet(30, host(null, true)),
      fleet(60, host(status({ booted: { slot: 'USR-B', version: '1.0.1' }, health: 'pending' }), true)),
      // The gate passed and the lock went back between two looks: the gate comes first.
      fleet(70, host(status({ booted: { slot: 'USR-B', version: '1.0.1' } }))),
    ];
    const events = observed.flatMap((view, i) => diffFleet(observed[i - 1] ?? null, view));
    expect(events.map((e) => `${e.seconds} ${e.what}`)).toEqual([
      '10 staged 1.0.1 in USR-B',
      '20 took the reboot lock',
      '30 went down to reboot',
      '60 came up on 1.0.1 (USR-B)',
      '70 passed its health gate on 1.0.1',
      '70 released the reboot lock',
    ]);
  });

  it('gives one host\'s release of the lock before another\'s take of it, whatever the host order', () => {
    const ids = ['host-1', 'host-2'];
    const view = (seconds: number, holder: string, host1: StatusReport | null): FleetView => ({
      seconds,
      hosts: ids.map((id) => ({ host: id, status: id === 'host-1' ? host1 : staged, holdsLock: id === holder })),
      lock: { max: 1, holders: [holder] },
    });
    const before = view(0, 'host-2', staged);
    const after = view(5, 'host-1', null);
    expect(diffFleet(before, after).map((e) => `${e.host} ${e.what}`)).toEqual(['host-2 released the reboot lock', 'host-1 took the reboot lock', 'host-1 went down to reboot']);
  });

  it('reports a failed gate once', () => {
    const failing = status({ booted: { slot: 'USR-B', version: '1.0.2' }, health: 'failed' });
    const first = diffFleet(fleet(0, host(status({ health: 'pending' }), true)), fleet(5, host(failing, true)));
    const again = diffFleet(fleet(5, host(failing, true)), fleet(10, host(failing, true)));
    expect(first.map((e) => e.what)).toEqual(['failed its health gate on 1.0.2']);
    expect(again).toEqual([]);
  });
});

describe('renderFleet and lockVerdict', () => {
  it('marks the holder and counts the places', () => {
    const lines = renderFleet(fleet(42, host(staged, true)));
    expect(lines[1]).toMatch(/^ {2}host-1 +1\.0\.0 +USR-A +HELD +holds the lock/);
    expect(lines.at(-1)).toBe('  reboot lock: held by host-1 (1 of 1)   t+42 s');
  });

  it('passes a history within max and names one that broke it', () => {
    expect(lockVerdict([0, 1, 0, 1, 0], 1)).toBe('lock history: 5 revisions in etcd, never more than 1 holder at once (max 1)');
    expect(lockVerdict([0, 1, 2, 1], 1)).toMatch(/2 holders at once .* more than max 1: the lock was broken/);
  });
});
