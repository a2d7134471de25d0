// BlockDevice adapter over a file descriptor: block devices (size and sector size from sysfs) and
// disk-image files (sector size given, or found by looking for the GPT signature).

import { open, readFile, realpath } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { SlotError } from './slot-errors.ts';
import type { BlockDevice } from './block-device.ts';

export interface OpenOptions {
  readonly writable: boolean;
  /** For image files: the logical sector size; found from the GPT signature when omitted. */
  readonly sectorSize?: number;
  /** Where sysfs is mounted; tests point it elsewhere. */
  readonly sysfsRoot?: string;
}

function ioError(message: string, cause: unknown): SlotError {
  return new SlotError('ERR_DEVICE_IO', message, { cause });
}

export class FileBlockDevice implements BlockDevice {
  readonly path: string;
  readonly size: number;
  readonly sectorSize: number;
  private readonly handle: FileHandle;

  private constructor(path: string, size: number, sectorSize: number, handle: FileHandle) {
    this.path = path;
    this.size = size;
    this.sectorSize = sectorSize;
    this.handle = handle;
  }

  static async open(path: string, options: OpenOptions): Promise<FileBlockDevice> {
    let handle: FileHandle;
    try {
      handle = await open(path, options.writable ? 'r+' : 'r');
    } catch (cause) {
      throw ioError(`failed to open ${path}`, cause);
    }
    try {
      const info = await handle.stat();
      if (info.isBlockDevice()) {
        const geometry = await blockDeviceGeometry(path, options.sysfsRoot ?? '/sys');
        return new FileBlockDevice(path, geometry.size, options.sectorSize ?? geometry.sectorSize, handle);
      }
      if (!info.isFile()) throw new SlotError('ERR_DEVICE_IO', `${path} is neither a block device nor a regular file`);
      const sectorSize = options.sectorSize ?? (await probeSectorSize(handle, info.size));
      return new FileBlockDevice(path, info.size, sectorSize, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buffer = new Uint8Array(length);
    await this.readInto(offset, buffer);
    return buffer;
  }

  async readInto(offset: number, target: Uint8Array): Promise<void> {
    const length = target.length;
    if (offset < 0 || offset + length > this.size) {
      throw new SlotError('ERR_DEVICE_IO', `read of ${length} bytes at ${offset} is outside ${this.path} (${this.size} bytes)`);
    }
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.handle.read(target, done, length - done, offset + done);
        if (bytesRead === 0) throw new SlotError('ERR_DEVICE_IO', `unexpected end of ${this.path} at offset ${offset + done}`);
        done += bytesRead;
      }
    } catch (cause) {
      throw ioError(`failed to read ${length} bytes at offset ${offset} of ${this.path}`, cause);
    }
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (offset < 0 || offset + data.length > this.size) {
      throw new SlotError('ERR_DEVICE_IO', `write of ${data.length} bytes at ${offset} is outside ${this.path} (${this.size} bytes)`);
    }
    let done = 0;
    try {
      while (done < data.length) {
        const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (cause) {
      throw ioError(`failed to write ${data.length} bytes at offset ${offset} of ${this.path}`, cause);
    }
  }

  async sync(): Promise<void> {
    try {
      await this.handle.sync();
    } catch (cause) {
      throw ioError(`failed to flush ${this.path} to stable storage`, cause);
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function blockDeviceGeometry(path: string, sysfsRoot: string): Promise<{ size: number; sectorSize: number }> {
  const name = basename(await realpath(path));
  const readNumber = async (file: string): Promise<number> => Number((await readFile(`${sysfsRoot}/class/block/${name}/${file}`, 'utf8')).trim());
  try {
    // sysfs counts "size" in 512-byte units whatever the logical sector size.
    const size = (await readNumber('size')) * 512;
    const sectorSize = await readNumber('queue/logical_block_size').catch(() => 512);
    return { size, sectorSize };
  } catch (cause) {
    throw ioError(`failed to read the size of ${path} from ${sysfsRoot}/class/block/${name}`, cause);
  }
}

/** A GPT header sits at LBA 1, so "EFI PART" at byte 512 or 4096 tells the sector size of an image. */
async function probeSectorSize(handle: FileHandle, size: number): Promise<number> {
  const signature = Buffer.from('EFI PART', 'latin1');
  for (const candidate of [512, 4096]) {
    if (size < candidate * 2) continue;
    const buffer = Buffer.alloc(8);
    await handle.read(buffer, 0, 8, candidate);
    if (buffer.equals(signature)) return candidate;
  }
  return 512;
}
