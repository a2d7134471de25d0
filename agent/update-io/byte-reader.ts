// Reads an HTTP body in pieces of a given size: the full apply takes a group of frames at a time,
// the delta apply one chunk's frame at a time, both with memory bounded by what they ask for.

/** Takes bytes from an async iterable in pieces of at most n, keeping what is left over. */
export class ByteReader {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private readonly body: AsyncIterable<Uint8Array>;
  private pending: Uint8Array | null = null;

  constructor(body: AsyncIterable<Uint8Array>) {
    this.body = body;
    this.iterator = body[Symbol.asyncIterator]();
  }

  /** Ends a read waiting on the connection: `return()` would wait for it to finish first. */
  destroy(): void {
    (this.body as { destroy?: () => void }).destroy?.();
  }

  async next(max: number): Promise<Uint8Array | null> {
    if (!this.pending) {
      const result: IteratorResult<Uint8Array> = await this.iterator.next();
      if (result.done) return null;
      this.pending = result.value;
    }
    const piece = this.pending.subarray(0, max);
    this.pending = this.pending.length > max ? this.pending.subarray(max) : null;
    return piece;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

/** The next `size` bytes as one buffer; null if the connection ends first (a resumable break). */
export async function readExactly(reader: ByteReader, size: number): Promise<Uint8Array | null> {
  const pieces: Uint8Array[] = [];
  for (let got = 0; got < size; ) {
    const piece = await reader.next(size - got);
    if (!piece) return null;
    pieces.push(piece);
    got += piece.length;
  }
  return pieces.length === 1 ? (pieces[0] ?? null) : Buffer.concat(pieces);
}
