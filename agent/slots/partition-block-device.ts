// A BlockDevice that is one partition of another: offsets are relative to the partition and
// nothing can be read or written outside it, so an image can never spill into the next partition.

import { SlotError } from './slot-errors.ts';
import type { BlockDevice } from './block-device.ts';

export class PartitionBlockDevice implements BlockDevice {
  readonly path: string;
  readonly size: number;
  readonly sectorSize: number;
  private readonly disk: BlockDevice;
  private readonly start: number;

  constructor(disk: BlockDevice, start: number, size: number, name: string) {
    if (start < 0 || start + size > disk.size) throw new SlotError('ERR_DEVICE_IO', `partition ${name} lies outside ${disk.path}`);
    this.disk = disk;
    this.start = start;
    this.size = size;
    this.sectorSize = disk.sectorSize;
    this.path = `${disk.path} (${name})`;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.check(offset, length, 'read');
    return this.disk.read(this.start + offset, length);
  }

  readInto(offset: number, target: Uint8Array): Promise<void> {
    this.check(offset, target.length, 'read');
    return this.disk.readInto(this.start + offset, target);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    this.check(offset, data.length, 'write');
    return this.disk.write(this.start + offset, data);
  }

  sync(): Promise<void> {
    return this.disk.sync();
  }

  close(): Promise<void> {
    return this.disk.close();
  }

  private check(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new SlotError('ERR_DEVICE_IO', `${what} of ${length} bytes at ${offset} is outside ${this.path} (${this.size} bytes)`);
    }
  }
}
