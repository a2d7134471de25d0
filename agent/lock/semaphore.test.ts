// locksmith's semaphore rules and value format.

import { describe, expect, it } from 'vitest';
import { emptySemaphore, lock, parseSemaphore, serializeSemaphore, setMax, unlock } from './semaphore.ts';

const KEY = 'coreos.com/updateengine/rebootlock/semaphore';

describe('the locksmith value', () => {
  it('is written byte for byte as locksmith writes it', () => {
    expect(serializeSemaphore(emptySemaphore())).toBe('{"semaphore":1,"max":1,"holders":[]}');
    const held = lock(emptySemaphore(2), 'b');
    const both = held.kind === 'acquired' ? lock(held.next, 'a') : held;
    expect(both.kind === 'acquired' && serializeSemaphore(both.next)).toBe('{"semaphore":0,"max":2,"holders":["a","b"]}');
  });

  it('reads what locksmith wrote, including a null holder list', () => {
    expect(parseSemaphore('{"semaphore":1,"max":1,"holders":null}', KEY)).toEqual(emptySemaphore());
    expect(parseSemaphore('{"semaphore":0,"max":1,"holders":["m1"]}', KEY)).toEqual({ semaphore: 0, max: 1, holders: ['m1'] });
  });

  it.each([
    ['not JSON', 'garbage', /is not JSON/],
    ['not an object', '[1]', /lacks whole-number/],
    ['missing max', '{"semaphore":1,"holders":[]}', /lacks whole-number/],
    ['bad holders', '{"semaphore":0,"max":1,"holders":[7]}', /not a list of ids/],
    ['duplicate holder', '{"semaphore":-1,"max":1,"holders":["a","a"]}', /lists a holder twice/],
    ['inconsistent count', '{"semaphore":1,"max":1,"holders":["a"]}', /inconsistent: semaphore 1 with max 1 and 1 holders/],
  ])('reports a corrupt value (%s) naming the key', (_name, text, message) => {
    expect(() => parseSemaphore(text, KEY)).toThrow(expect.objectContaining({ code: 'ERR_LOCK_CORRUPT', message: expect.stringMatching(message) as unknown }));
    expect(() => parseSemaphore(text, KEY)).toThrow(KEY);
  });
});

describe('lock and unlock', () => {
  it('never gives more places than max', () => {
    let s = emptySemaphore(3);
    const outcomes = ['e', 'a', 'd', 'c', 'b'].map((id) => {
      const result = lock(s, id);
      if (result.kind === 'acquired') s = result.next;
      return result.kind;
    });
    expect(outcomes).toEqual(['acquired', 'acquired', 'acquired', 'full', 'full']);
    expect(s).toEqual({ semaphore: 0, max: 3, holders: ['a', 'd', 'e'] });
  });

  it('is idempotent per holder', () => {
    const first = lock(emptySemaphore(), 'm1');
    expect(first.kind).toBe('acquired');
    if (first.kind !== 'acquired') return;
    expect(lock(first.next, 'm1')).toEqual({ kind: 'already-held', next: first.next });
    const released = unlock(first.next, 'm1');
    expect(released).toEqual({ kind: 'released', next: emptySemaphore() });
    expect(unlock(emptySemaphore(), 'm1')).toEqual({ kind: 'not-held' });
  });

  it('says who holds a full semaphore', () => {
    expect(lock({ semaphore: 0, max: 1, holders: ['m1'] }, 'm2')).toEqual({ kind: 'full', holders: ['m1'] });
  });
});

describe('set-max', () => {
  it('shifts the free count by the change in max, as locksmithctl does', () => {
    expect(setMax({ semaphore: 0, max: 1, holders: ['a'] }, 3)).toEqual({ semaphore: 2, max: 3, holders: ['a'] });
    const lowered = setMax({ semaphore: 0, max: 2, holders: ['a', 'b'] }, 1);
    expect(lowered).toEqual({ semaphore: -1, max: 1, holders: ['a', 'b'] });
    expect(lock(lowered, 'c').kind).toBe('full');
    const afterOne = unlock(lowered, 'a');
    expect(afterOne.kind === 'released' && lock(afterOne.next, 'c').kind).toBe('full');
  });
  it('refuses a negative max', () => {
    expect(() => setMax(emptySemaphore(), -1)).toThrow(expect.objectContaining({ code: 'ERR_LOCK_INVALID_MAX' }));
  });
});
