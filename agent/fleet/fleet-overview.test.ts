// The fleet overview from hosts, outcomes, halts and the semaphore: counts per release, failures the
// breaker counts (a resume forgives earlier ones), holders by kind, and quiet hosts by the bound.

import { describe, expect, it } from 'vitest';
import { fleetOverview } from './fleet-overview.ts';
import { hostReport, updateOutcome } from '../../test/builders/fleet-reports.ts';
import type { HolderRecord, LockStatus } from '../lock/lock-backend.ts';
import type { HostReport, UpdateOutcome } from './fleet-store.ts';

const now = new Date('2026-12-03T12:00:00Z');
const emptyLock: LockStatus = { key: 'k', semaphore: { semaphore: 1, max: 1, holders: [] }, holders: [] };
const base = { group: 'web', outcomes: [], halts: [], lock: emptyLock, now, quietAfterMs: 30 * 60_000 };

describe('fleetOverview', () => {
  it('counts per release the hosts running it, staged for it and waiting for its wave, newest release first', () => {
    const overview = fleetOverview({
      ...base,
      hosts: [
        hostReport('a', '1.0.1', '2026-12-03T11:59:00Z'),
        hostReport('b', '1.0.1', '2026-12-03T11:59:00Z', { staged: '1.0.10', activity: 'waiting-to-reboot' }),
        hostReport('c', '1.0.1', '2026-12-03T11:59:00Z', { waitingForWave: { version: '1.0.10', until: '2026-12-03T14:00:00Z' } }),
        hostReport('d', '1.0.1', '2026-12-03T11:59:00Z', { waitingForWave: { version: '1.0.10', until: '2026-12-03T13:00:00Z' } }),
        hostReport('e', '1.0.10', '2026-12-03T11:59:00Z'),
        hostReport('f', '1.0.9', '2026-12-03T11:59:00Z'),
      ],
    });
    expect(overview.versions.map((v) => [v.version, v.running, v.staged, v.waitingForWave, v.nextWaveAt])).toEqual([
      ['1.0.10', 1, 1, 2, '2026-12-03T13:00:00Z'],
      ['1.0.9', 1, 0, 0, null],
      ['1.0.1', 4, 0, 0, null],
    ]);
    expect(overview.quiet).toEqual([]);
  });

  it('lists failures with their reasons, newest first, and a halt with who set it and why', () => {
    const overview = fleetOverview({
      ...base,
      hosts: [],
      outcomes: [
        updateOutcome('a', '1.0.2', 'succeeded', '2026-12-03T10:00:00Z'),
        updateOutcome('b', '1.0.2', 'gate-failed', '2026-12-03T10:05:00Z', 'app.service failed'),
        updateOutcome('c', '1.0.2', 'boot-failed', '2026-12-03T10:06:00Z', 'fell back to USR-A'),
      ],
      halts: [{ version: '1.0.2', state: 'halted', by: 'breaker', reason: '2 of 3 hosts failed 1.0.2', at: '2026-12-03T10:06:01Z' }],
    });
    const [row] = overview.versions;
    expect(row).toMatchObject({ version: '1.0.2', succeeded: 1, forgiven: 0, halt: { state: 'halted', by: 'breaker', reason: '2 of 3 hosts failed 1.0.2' } });
    expect(row?.failures.map((f) => [f.host, f.result, f.reason])).toEqual([
      ['c', 'boot-failed', 'fell back to USR-A'],
      ['b', 'gate-failed', 'app.service failed'],
    ]);
  });

  it("counts only the failures after an operator's resume, as the breaker does", () => {
    const overview = fleetOverview({
      ...base,
      hosts: [],
      outcomes: [updateOutcome('a', '2.0.0', 'gate-failed', '2026-12-03T10:00:00Z'), updateOutcome('b', '2.0.0', 'apply-failed', '2026-12-03T11:00:00Z')],
      halts: [{ version: '2.0.0', state: 'resumed', by: 'operator', reason: 'fixed the probe', at: '2026-12-03T10:30:00Z' }],
    });
    expect(overview.versions[0]).toMatchObject({ forgiven: 1, halt: { state: 'resumed', by: 'operator' } });
    expect(overview.versions[0]?.failures.map((f) => f.host)).toEqual(['b']);
  });

  it('names each holder by kind and marks the hosts holding a place', () => {
    const lock: LockStatus = {
      key: 'k',
      semaphore: { semaphore: 0, max: 4, holders: ['fcos-1', 'id-a', 'maint', 'old'] },
      holders: [
        { id: 'fcos-1', record: { id: 'fcos-1', host: 'fleetlock:fcos-1', since: '2026-12-03T11:00:00Z', targetVersion: 'unknown', expires: 'never' }, alive: true },
        { id: 'id-a', record: { id: 'id-a', host: 'a', since: '2026-12-03T11:10:00Z', targetVersion: '1.0.2' }, alive: true },
        { id: 'maint', record: { id: 'maint', host: 'ops', since: '2026-12-03T11:20:00Z', targetVersion: 'manual', expires: 'never' }, alive: true },
        { id: 'old', record: null, alive: null },
      ],
    };
    const overview = fleetOverview({ ...base, lock, hosts: [hostReport('a', '1.0.1', '2026-12-03T11:59:00Z'), hostReport('b', '1.0.1', '2026-12-03T11:59:00Z')] });
    expect(overview.lock.holders.map((h) => [h.id, h.kind])).toEqual([
      ['fcos-1', 'fleetlock'],
      ['id-a', 'agent'],
      ['maint', 'operator'],
      ['old', 'locksmith'],
    ]);
    expect(overview.lock.max).toBe(4);
    expect(overview.hosts.map((h) => [h.host, h.holdsPlace])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('lists hosts silent for longer than the bound (and those whose time does not parse) as quiet, longest first', () => {
    const overview = fleetOverview({
      ...base,
      hosts: [
        hostReport('fresh', '1.0.1', '2026-12-03T11:45:00Z'),
        hostReport('edge', '1.0.1', '2026-12-03T11:30:00Z'),
        hostReport('gone', '1.0.1', '2026-12-03T09:00:00Z'),
        hostReport('later', '1.0.1', '2026-12-03T11:00:00Z'),
        hostReport('garbled', '1.0.1', 'yesterday'),
      ],
    });
    // Exactly the bound is not yet quiet.
    expect(overview.quiet.map((h) => [h.host, h.silentForMs])).toEqual([
      ['garbled', null],
      ['gone', 3 * 3_600_000],
      ['later', 3_600_000],
    ]);
  });

  it('orders versions that are not semver without failing', () => {
    const overview = fleetOverview({ ...base, hosts: [hostReport('a', 'banana', '2026-12-03T11:59:00Z'), hostReport('b', '1.0.0', '2026-12-03T11:59:00Z'), hostReport('c', 'apple', '2026-12-03T11:59:00Z')] });
    expect(overview.versions.map((v) => v.version).sort()).toEqual(['1.0.0', 'apple', 'banana']);
  });
});

describe('fleetOverview over reports it cannot trust', () => {
  it('keeps the rest of the fleet when a report or a holder record lacks fields or has the wrong types', () => {
    const broken = { machineId: 'id-odd', host: 'odd', version: 7, at: '2026-12-03T11:59:00Z' } as unknown as HostReport;
    const lock: LockStatus = { key: 'k', semaphore: { semaphore: 0, max: 1, holders: ['z'] }, holders: [{ id: 'z', record: { id: 'z' } as unknown as HolderRecord, alive: true }] };
    const overview = fleetOverview({ ...base, lock, hosts: [hostReport('a', '1.0.1', '2026-12-03T11:59:00Z'), broken], outcomes: [{ version: '1.0.1' } as unknown as UpdateOutcome] });
    expect(overview.hosts.find((h) => h.machineId === 'id-odd')).toMatchObject({ host: 'odd', version: '7', slot: '?', staged: null, waitingForWave: null });
    expect(overview.versions.map((v) => v.version)).toEqual(['7', '1.0.1']);
    expect(overview.versions[1]).toMatchObject({ running: 1, failures: [{ host: '?', result: '?', reason: null }] });
    expect(overview.lock.holders).toMatchObject([{ id: 'z', kind: 'agent', host: '?' }]);
  });
});
