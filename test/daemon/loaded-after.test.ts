// loadedAfter: what the agent loads once it answers on D-Bus (its lock client and update path).

import { describe, expect, it } from 'vitest';
import { loadedAfter } from '../../agent/wiring/loaded-after.ts';

describe('loadedAfter', () => {
  it('makes nothing before `after` settles, then makes it once for every caller', async () => {
    let answer = (): void => undefined;
    const answering = new Promise<void>((resolve) => (answer = resolve));
    let made = 0;
    const load = loadedAfter(answering, () => Promise.resolve(++made));
    const early = load();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(made).toBe(0);
    answer();
    expect(await early).toBe(1);
    expect(await load()).toBe(1);
    expect(made).toBe(1);
  });

  it('gives a failure to its caller and tries again at the next call', async () => {
    let calls = 0;
    const load = loadedAfter(Promise.resolve(), () => (++calls === 1 ? Promise.reject(new Error('keyring /etc/keys.asc does not exist')) : Promise.resolve('keyring')));
    await expect(load()).rejects.toThrow('keyring /etc/keys.asc does not exist');
    expect(await load()).toBe('keyring');
    expect(await load()).toBe('keyring');
    expect(calls).toBe(2);
  });
});
