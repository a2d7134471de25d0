// The BlockDevice port: byte-addressed reads and writes on a disk, a partition or a disk-image file.

export interface BlockDevice {
  /** Where the bytes live, for messages: "/dev/vda" or "build/disk.img". */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Logical sector size in bytes (512 or 4096). */
  readonly sectorSize: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fills `target` from `offset`: lets long scans reuse one buffer instead of allocating per read. */
  readInto(offset: number, target: Uint8Array): Promise<void>;
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Returns once every completed write is on stable storage. */
  sync(): Promise<void>;
  close(): Promise<void>;
}
