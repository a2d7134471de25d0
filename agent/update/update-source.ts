// The UpdateSource port: where the update path gets a channel's signed manifest and a release's
// payload (an HTTP client in production), in the update path's own words.

/**
 * Where payload bytes come from: the bytes from `offset` on (up to `end`, exclusive, when given: a
 * delta update's bounded Range), or from 0 when Range was ignored.
 */
export interface PayloadSource {
  open(offset: number, end?: number): Promise<{ readonly start: number; readonly body: AsyncIterable<Uint8Array> }>;
}

export interface UpdateSource {
  /** A small document (manifest, signature), refused once it grows past `capBytes`. */
  fetchSmall(url: string, capBytes: number): Promise<Uint8Array>;
  /** The payload at `url`, opened at an offset so a broken transfer resumes. */
  payloadSource(url: string): PayloadSource;
}
