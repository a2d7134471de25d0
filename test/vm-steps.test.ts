// The VM suite's judges of etcd's lock history, on histories written by hand: contention found only
// where a host waited while another held, and a handoff flagged when a holder replaced another in one
// write or came in where the value had no room.

import { describe, expect, it } from 'vitest';
import { contention, unsafeHandoffs } from './builders/vm-steps.ts';
import type { LockRevision } from '../qemu/fleet-lab.ts';

const at = (revision: number, holders: string[], max = 1): LockRevision => ({ revision, semaphore: { semaphore: max - holders.length, max, holders } });

describe('lock history judges', () => {
  it('finds contention only where a host waits in line while another holds a place', () => {
    expect(contention([{ revision: 5, holders: [], waiting: ['a'] }, { revision: 6, holders: ['a'], waiting: ['a'] }])).toEqual([]);
    expect(contention([{ revision: 7, holders: ['a'], waiting: ['b'] }])).toEqual([{ revision: 7, waiting: 'b', holders: ['a'] }]);
  });

  it('accepts releases and takes into room, and flags a holder replaced in one write or let in without room', () => {
    expect(unsafeHandoffs([at(1, []), at(2, ['a']), at(3, []), at(4, ['b'], 2), at(5, ['b', 'c'], 2)])).toEqual([]);
    expect(unsafeHandoffs([at(1, ['a']), at(2, ['b'])])).toEqual([{ revision: 2, before: ['a'], after: ['b'] }]);
    expect(unsafeHandoffs([at(1, ['a']), at(2, ['a', 'b'])])).toEqual([{ revision: 2, before: ['a'], after: ['a', 'b'] }]);
  });
});
