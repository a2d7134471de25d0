// Go's url.QueryEscape as locksmith applies it to group names, and the keys locksmith builds from them.

import { describe, expect, it } from 'vitest';
import { semaphoreKey } from './etcd-lock-backend.ts';
import { goQueryEscape } from './go-query-escape.ts';

const ROOT = 'coreos.com/updateengine/rebootlock';

describe('goQueryEscape', () => {
  // Each expected value is what Go's url.QueryEscape returns for the input (net/url: unreserved
  // letters, digits and -_.~ kept, space as '+', every other byte %XX in upper-case hex).
  it.each([
    ['', ''],
    ['web', 'web'],
    ['db west', 'db+west'],
    ['a!b', 'a%21b'],
    ['é', '%C3%A9'],
    ['a/b', 'a%2Fb'],
    ['~-_.', '~-_.'],
    ["*'()", '%2A%27%28%29'],
    ['+', '%2B'],
    ['%', '%25'],
    ['a b+c', 'a+b%2Bc'],
    ['$&,:;=?@', '%24%26%2C%3A%3B%3D%3F%40'],
    ['#[]"<>\\^`{|}', '%23%5B%5D%22%3C%3E%5C%5E%60%7B%7C%7D'],
    ['\t\n\u0000\u007f', '%09%0A%00%7F'],
    ['Zürich-2', 'Z%C3%BCrich-2'],
    ['日本', '%E6%97%A5%E6%9C%AC'],
    ['🚀', '%F0%9F%9A%80'],
    ['AZaz09', 'AZaz09'],
  ])('escapes %j as %j', (input, escaped) => {
    expect(goQueryEscape(input)).toBe(escaped);
  });

  it('differs from encodeURIComponent where a mixed fleet would split', () => {
    for (const group of ['db west', 'a!b', "it's", '(x)', 'a*']) expect(goQueryEscape(group)).not.toBe(encodeURIComponent(group));
  });
});

describe("locksmith's semaphore key", () => {
  it('is the default semaphore for no group, and groups/<QueryEscape(group)>/semaphore otherwise', () => {
    expect(semaphoreKey('')).toBe(`${ROOT}/semaphore`);
    expect(semaphoreKey('db west')).toBe(`${ROOT}/groups/db+west/semaphore`);
    expect(semaphoreKey('a!b')).toBe(`${ROOT}/groups/a%21b/semaphore`);
    expect(semaphoreKey('a/b')).toBe(`${ROOT}/groups/a%2Fb/semaphore`);
  });

  it('is cleaned as path.Join cleans it: "." drops out, ".." removes "groups"', () => {
    expect(semaphoreKey('.')).toBe(`${ROOT}/groups/semaphore`);
    expect(semaphoreKey('..')).toBe(`${ROOT}/semaphore`);
    expect(semaphoreKey('...')).toBe(`${ROOT}/groups/.../semaphore`);
    expect(semaphoreKey('./..')).toBe(`${ROOT}/groups/.%2F../semaphore`);
  });
});
