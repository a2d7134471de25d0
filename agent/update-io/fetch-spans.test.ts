// The Range requests a delta makes: runs of missing chunks, merged over small gaps, and never more
// requests than the bound however scattered the missing chunks are.

import { describe, expect, it } from 'vitest';
import { fetchSpans } from './delta-apply.ts';

/** n chunks of 1000 payload bytes each. */
const chunks = (n: number) => Array.from({ length: n }, (_, i) => ({ imageOffset: i * 2000, length: 2000, payloadOffset: i * 1000, payloadLength: 1000, sha256: '' }));

describe('fetch spans', () => {
  it('makes one request per run of missing chunks when the gaps are wide', () => {
    const missing = [true, true, false, false, false, true, false, false, false, true];
    expect(fetchSpans(chunks(10), missing, 0, 64)).toEqual([{ first: 0, last: 1 }, { first: 5, last: 5 }, { first: 9, last: 9 }]);
  });

  it('merges runs separated by at most the gap, fetching the chunks between', () => {
    const missing = [true, false, true, false, false, false, true];
    expect(fetchSpans(chunks(7), missing, 1000, 64)).toEqual([{ first: 0, last: 2 }, { first: 6, last: 6 }]);
  });

  it('widens the gap until the requests are within the bound, even from a gap of 0', () => {
    const missing = Array.from({ length: 1000 }, (_, i) => i % 2 === 0);
    const spans = fetchSpans(chunks(1000), missing, 0, 10);
    expect(spans.length).toBeLessThanOrEqual(10);
    expect(spans[0]?.first).toBe(0);
    expect(spans.at(-1)?.last).toBe(998);
  });

  it('makes no request when nothing is missing', () => {
    expect(fetchSpans(chunks(5), [false, false, false, false, false], 64, 64)).toEqual([]);
  });
});
