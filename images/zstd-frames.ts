// Where each zstd frame ends in a run of concatenated frames, read from the frame and block headers
// (RFC 8878 section 3.1) without decompressing: a payload group holds one frame per content-defined
// chunk, and Node's zstd stream must be given one whole frame per write (nodejs/node#64741).

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** The byte length of the frame at `at`, or null when the bytes there do not make a whole frame. */
export function zstdFrameLength(bytes: Uint8Array, at: number): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + 8 > bytes.length) return null;
  const magic = view.getUint32(at, true);
  if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
    const end = at + 8 + view.getUint32(at + 4, true);
    return end <= bytes.length ? end - at : null;
  }
  if (magic !== FRAME_MAGIC) return null;
  const descriptor = bytes[at + 4] ?? 0;
  const singleSegment = (descriptor & 0x20) !== 0;
  const checksum = (descriptor & 0x04) !== 0;
  const fcsFlag = descriptor >> 6;
  const fcsBytes = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
  const dictBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
  let p = at + 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
  for (;;) {
    if (p + 3 > bytes.length) return null;
    const header = (bytes[p] ?? 0) | ((bytes[p + 1] ?? 0) << 8) | ((bytes[p + 2] ?? 0) << 16);
    const type = (header >> 1) & 3;
    if (type === 3) return null;
    p += 3 + (type === 1 ? 1 : header >>> 3);
    if ((header & 1) !== 0) break;
  }
  p += checksum ? 4 : 0;
  return p <= bytes.length ? p - at : null;
}

/** `bytes` cut into its frames (views, not copies); null when it is not a whole number of frames. */
export function splitZstdFrames(bytes: Uint8Array): Uint8Array[] | null {
  const frames: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const length = zstdFrameLength(bytes, at);
    if (length === null) return null;
    frames.push(bytes.subarray(at, at + length));
    at += length;
  }
  return frames;
}
