// The duplicate-key scanner: repeats at any depth, keys spelled with escapes, and strings holding
// quotes, braces and commas that must not be read as structure.

import { describe, expect, it } from 'vitest';
import { findDuplicateKey } from './json-duplicate-keys.ts';

describe('findDuplicateKey', () => {
  it('finds nothing in a document without repeats, whatever its strings hold', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}')).toBeNull();
    expect(findDuplicateKey('{"a":"\\"a\\":1, {\\"b\\"","b":"}{,[","c":"\\\\","d":"x"}')).toBeNull();
    expect(findDuplicateKey('[1, "two", {"x": null}, [], {}]')).toBeNull();
    expect(findDuplicateKey('"just a string"')).toBeNull();
  });

  it('finds a repeat at the top level, in a nested object, and inside an array', () => {
    expect(findDuplicateKey('{"version":"1.0.1","x":1,"version":"9.9.9"}')).toEqual({ key: 'version', path: 'version' });
    expect(findDuplicateKey('{"payload":{"url":"a","size":1,"url":"b"}}')).toEqual({ key: 'url', path: 'payload.url' });
    expect(findDuplicateKey('{"p":{"chunks":[{"s":1},{"s":2,"s":3}]}}')).toEqual({ key: 's', path: 'p.chunks[1].s' });
    expect(findDuplicateKey('[[0],{"a":{},"a":[]}]')).toEqual({ key: 'a', path: '[1].a' });
  });

  it('decodes escapes before comparing, as JSON.parse does', () => {
    expect(findDuplicateKey('{"version":"1","\\u0076ersion":"2"}')).toEqual({ key: 'version', path: 'version' });
    expect(findDuplicateKey('{"a\\"b":1,"a\\u0022b":2}')).toEqual({ key: 'a"b', path: '["a\\"b"]' });
  });

  it('does not mistake a value equal to a key, or a key of a sibling object, for a repeat', () => {
    expect(findDuplicateKey('{"a":"a","b":"a"}')).toBeNull();
    expect(findDuplicateKey('{"a":{"k":1},"b":{"k":2}}')).toBeNull();
    expect(findDuplicateKey('{ "a" : [ "a" , "a" ] , "b" : 1 }')).toBeNull();
  });
});
