// In-memory BlockDevice for unit tests: records every write and sync so that torn-write tests can
// replay any prefix of them. Passes the same contract suite as FileBlockDevice.

import type { BlockDevice } from '../../agent/slots/block-device.ts';

export type DeviceEvent = { readonly kind: 'write'; readonly offset: number; readonly data: Uint8Array } | { readonly kind: 'sync' };

export class MemoryBlockDevice implements BlockDevice {
  readonly path: string;
  readonly sectorSize: number;
  readonly bytes: Uint8Array;
  readonly events: DeviceEvent[] = [];
  closed = false;

  constructor(bytes: Uint8Array, options: { sectorSize?: number; path?: string } = {}) {
    this.bytes = bytes;
    this.sectorSize = options.sectorSize ?? 512;
    this.path = options.path ?? 'memory';
  }

  get size(): number {
    return this.bytes.length;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.size) return Promise.reject(new RangeError(`read outside ${this.path}`));
    return Promise.resolve(this.bytes.slice(offset, offset + length));
  }

  readInto(offset: number, target: Uint8Array): Promise<void> {
    if (offset < 0 || offset + target.length > this.size) return Promise.reject(new RangeError(`read outside ${this.path}`));
    target.set(this.bytes.subarray(offset, offset + target.length));
    return Promise.resolve();
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0 || offset + data.length > this.size) return Promise.reject(new RangeError(`write outside ${this.path}`));
    this.bytes.set(data, offset);
    this.events.push({ kind: 'write', offset, data: Uint8Array.from(data) });
    return Promise.resolve();
  }

  sync(): Promise<void> {
    this.events.push({ kind: 'sync' });
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  writes(): { offset: number; data: Uint8Array }[] {
    return this.events.flatMap((event) => (event.kind === 'write' ? [event] : []));
  }
}

/** The disk as it would be if power failed after `whole` writes and `partial` bytes of the next. */
export function tornImage(base: Uint8Array, writes: readonly { offset: number; data: Uint8Array }[], whole: number, partial: number): Uint8Array {
  const image = Uint8Array.from(base);
  writes.slice(0, whole).forEach((w) => image.set(w.data, w.offset));
  const next = writes[whole];
  if (next && partial > 0) image.set(next.data.subarray(0, partial), next.offset);
  return image;
}
