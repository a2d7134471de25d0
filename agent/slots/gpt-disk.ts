// Reading and writing a whole GPT on a BlockDevice: both copies validated, the damaged one repaired
// from the good one, and every change written in cgpt's crash-safe order.

import { InternalError } from '../../platform/internal-error.ts';
import { SlotError } from './slot-errors.ts';
import type { BlockDevice } from './block-device.ts';
import {
  decodeEntries,
  decodeHeader,
  encodeEntries,
  encodeHeader,
  entriesCrc,
  entryArrayBytes,
  GPT_SIGNATURE,
  hasProtectiveMbr,
  MAX_ENTRY_ARRAY_BYTES,
} from './gpt-format.ts';
import type { GptEntry, GptHeader } from './gpt-format.ts';

export interface GptTable {
  readonly sectorSize: number;
  readonly primary: GptHeader;
  readonly backup: GptHeader;
  readonly entries: readonly GptEntry[];
}

export interface GptReadResult {
  readonly table: GptTable;
  /** Which copy was damaged (and rewritten when repair was allowed), with the reason. */
  readonly damaged: { readonly copy: 'primary' | 'backup'; readonly problem: string } | null;
  readonly repaired: boolean;
  readonly warnings: readonly string[];
}

interface ValidCopy {
  readonly header: GptHeader;
  readonly entryBytes: Uint8Array;
}

type CopyResult = ValidCopy | { readonly problem: string };

function isValid(copy: CopyResult): copy is ValidCopy {
  return 'header' in copy;
}

/**
 * Reads the GPT, falling back to the backup copy when the primary is damaged. With `repair`, the
 * damaged or stale copy is rewritten from the one in use before returning (the device must be open
 * for writing); without it nothing is written.
 */
export async function readGpt(device: BlockDevice, options: { repair: boolean }): Promise<GptReadResult> {
  const { sectorSize } = device;
  const totalSectors = BigInt(Math.floor(device.size / sectorSize));
  if (totalSectors < 6n) throw new SlotError('ERR_NOT_GPT', `${device.path} is too small to hold a GPT (${device.size} bytes)`);
  const lastLba = totalSectors - 1n;
  const warnings: string[] = [];
  if (!hasProtectiveMbr(await device.read(0, sectorSize))) warnings.push(`${device.path} has no protective MBR at LBA 0`);

  // A CRC-valid primary that places its backup past the end means the disk lost its tail: refuse
  // rather than "repair" a backup into the middle of a partition.
  const primaryHeader = decodeHeader(await device.read(sectorSize, sectorSize));
  if (typeof primaryHeader !== 'string' && primaryHeader.backupLba > lastLba) {
    throw new SlotError(
      'ERR_GPT_TRUNCATED',
      `GPT on ${device.path} puts its backup header at LBA ${primaryHeader.backupLba} but the device ends at LBA ${lastLba} (truncated image?)`,
    );
  }
  const primary = await readCopy(device, 1n, totalSectors);
  const backupLba = isValid(primary) ? primary.header.backupLba : lastLba;
  const backup = await readCopy(device, backupLba, totalSectors);

  if (!isValid(primary) && !isValid(backup)) {
    const anySignature = (await hasSignature(device, 1n)) || (await hasSignature(device, lastLba));
    if (!anySignature) {
      throw new SlotError('ERR_NOT_GPT', `no GPT on ${device.path}: no "EFI PART" header at LBA 1 or at the last LBA ${lastLba}`);
    }
    throw new SlotError(
      'ERR_GPT_CORRUPT',
      `both GPT copies on ${device.path} are damaged: primary: ${primary.problem}; backup at LBA ${backupLba}: ${backup.problem}`,
    );
  }

  let table: GptTable;
  let damaged: GptReadResult['damaged'] = null;
  if (isValid(primary)) {
    // With a valid primary, a backup that is damaged or disagrees is rewritten from it.
    let backupHeader = mirrorHeader(primary.header, backupLba, backupEntriesLba(primary.header, backupLba, sectorSize));
    if (!isValid(backup)) damaged = { copy: 'backup', problem: backup.problem };
    else if (!sameTable(primary, backup)) damaged = { copy: 'backup', problem: 'backup differs from primary' };
    else backupHeader = backup.header;
    table = { sectorSize, primary: primary.header, backup: backupHeader, entries: decodeEntries(primary.entryBytes, primary.header) };
  } else if (isValid(backup)) {
    damaged = { copy: 'primary', problem: primary.problem };
    const primaryHeader = mirrorHeader(backup.header, 1n, 2n);
    if (primaryHeader.entriesLba + sectorsFor(entryArrayBytes(primaryHeader), sectorSize) > primaryHeader.firstUsableLba) {
      throw new SlotError('ERR_GPT_CORRUPT', `cannot rebuild the primary GPT on ${device.path}: its entry array would overlap the first usable LBA`);
    }
    table = { sectorSize, primary: primaryHeader, backup: backup.header, entries: decodeEntries(backup.entryBytes, backup.header) };
  } else {
    throw new InternalError('unreachable');
  }

  checkPartitionsFit(device, table, lastLba);
  if (damaged && options.repair) {
    await writeCopy(device, damaged.copy === 'primary' ? table.primary : table.backup, encodeEntries(table.entries, table.primary));
    await device.sync();
  }
  return { table, damaged, repaired: damaged !== null && options.repair, warnings };
}

/**
 * Writes new entries to both copies in cgpt's order: primary entries, primary header, flush,
 * backup entries, backup header, flush. A tear anywhere leaves one CRC-valid copy that holds the
 * old or the new table: while the primary is being written its CRCs fail and readers use the
 * backup (old); once it is complete readers prefer it (new).
 */
export async function writeGpt(device: BlockDevice, table: GptTable, entries: readonly GptEntry[]): Promise<GptTable> {
  const entryBytes = encodeEntries(entries, table.primary);
  const crc = entriesCrc(entryBytes);
  const primary = { ...table.primary, entriesCrc32: crc };
  const backup = { ...table.backup, entriesCrc32: crc };
  await writeCopy(device, primary, entryBytes);
  await device.sync();
  await writeCopy(device, backup, entryBytes);
  await device.sync();
  return { ...table, primary, backup, entries: decodeEntries(entryBytes, primary) };
}

async function writeCopy(device: BlockDevice, header: GptHeader, entryBytes: Uint8Array): Promise<void> {
  const { sectorSize } = device;
  await device.write(Number(header.entriesLba) * sectorSize, entryBytes);
  await device.write(Number(header.currentLba) * sectorSize, encodeHeader({ ...header, entriesCrc32: entriesCrc(entryBytes) }, sectorSize));
}

async function readCopy(device: BlockDevice, lba: bigint, totalSectors: bigint): Promise<CopyResult> {
  const { sectorSize } = device;
  if (lba >= totalSectors) return { problem: `LBA ${lba} is past the end of the device` };
  const decoded = decodeHeader(await device.read(Number(lba) * sectorSize, sectorSize));
  if (typeof decoded === 'string') return { problem: decoded };
  const header = decoded;
  if (header.currentLba !== lba) return { problem: `header says it is at LBA ${header.currentLba}, found at LBA ${lba}` };
  if (header.entrySize < 128 || header.entrySize % 8 !== 0) return { problem: `entry size ${header.entrySize} is invalid` };
  const arrayBytes = entryArrayBytes(header);
  if (arrayBytes === 0 || arrayBytes > MAX_ENTRY_ARRAY_BYTES) return { problem: `entry array of ${arrayBytes} bytes is out of range` };
  const arraySectors = sectorsFor(arrayBytes, sectorSize);
  if (header.entriesLba < 1n || header.entriesLba + arraySectors > totalSectors) {
    return { problem: `entry array at LBA ${header.entriesLba} does not fit on the device` };
  }
  if (header.entriesLba <= lba && lba < header.entriesLba + arraySectors) return { problem: 'entry array overlaps its header' };
  if (header.firstUsableLba > header.lastUsableLba || header.lastUsableLba >= totalSectors) {
    return { problem: `usable range ${header.firstUsableLba}..${header.lastUsableLba} is invalid for a device of ${totalSectors} sectors` };
  }
  const entryBytes = await device.read(Number(header.entriesLba) * sectorSize, arrayBytes);
  if (entriesCrc(entryBytes) !== header.entriesCrc32) return { problem: 'partition entry array CRC32 mismatch' };
  return { header, entryBytes };
}

async function hasSignature(device: BlockDevice, lba: bigint): Promise<boolean> {
  const bytes = await device.read(Number(lba) * device.sectorSize, 8);
  return Buffer.from(bytes).toString('latin1') === GPT_SIGNATURE;
}

function sameTable(a: ValidCopy, b: ValidCopy): boolean {
  const fields = ['firstUsableLba', 'lastUsableLba', 'diskGuid', 'entryCount', 'entrySize', 'entriesCrc32'] as const;
  return fields.every((field) => a.header[field] === b.header[field]) && Buffer.from(a.entryBytes).equals(b.entryBytes);
}

/** The header of the other copy: same table, locations swapped. */
function mirrorHeader(header: GptHeader, currentLba: bigint, entriesLba: bigint): GptHeader {
  return { ...header, currentLba, backupLba: header.currentLba, entriesLba };
}

function backupEntriesLba(primary: GptHeader, backupLba: bigint, sectorSize: number): bigint {
  return backupLba - sectorsFor(entryArrayBytes(primary), sectorSize);
}

function sectorsFor(bytes: number, sectorSize: number): bigint {
  return BigInt(Math.ceil(bytes / sectorSize));
}

function checkPartitionsFit(device: BlockDevice, table: GptTable, lastLba: bigint): void {
  for (const entry of table.entries) {
    if (entry.lastLba > lastLba) {
      throw new SlotError(
        'ERR_GPT_TRUNCATED',
        `partition ${entry.index + 1} (${entry.name || 'unnamed'}) on ${device.path} ends at LBA ${entry.lastLba} but the device ends at LBA ${lastLba} (truncated image?)`,
      );
    }
    if (entry.firstLba > entry.lastLba) {
      throw new SlotError('ERR_GPT_CORRUPT', `partition ${entry.index + 1} (${entry.name || 'unnamed'}) on ${device.path} starts after it ends`);
    }
  }
}
