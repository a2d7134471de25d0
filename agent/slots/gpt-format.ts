// The on-disk GPT format (UEFI spec chapter 5): header and partition-entry encoding with CRC32s,
// and the protective MBR check. Pure functions over bytes; no I/O.

import { crc32 } from 'node:zlib';
import { bytesToGuid, guidToBytes, ZERO_GUID } from '../../platform/guid.ts';

export const GPT_SIGNATURE = 'EFI PART';
export const GPT_REVISION = 0x0001_0000;
export const GPT_HEADER_SIZE = 92;
/** Cap on the entry array we accept: 128 entries of 128 bytes is the norm, 1 MiB is generous. */
export const MAX_ENTRY_ARRAY_BYTES = 1 << 20;

export interface GptHeader {
  readonly revision: number;
  readonly headerSize: number;
  readonly currentLba: bigint;
  readonly backupLba: bigint;
  readonly firstUsableLba: bigint;
  readonly lastUsableLba: bigint;
  readonly diskGuid: string;
  readonly entriesLba: bigint;
  readonly entryCount: number;
  readonly entrySize: number;
  readonly entriesCrc32: number;
}

export interface GptEntry {
  /** 0-based index in the entry array; the partition number is index + 1. */
  readonly index: number;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly firstLba: bigint;
  readonly lastLba: bigint;
  readonly attributes: bigint;
  readonly name: string;
  /** The entry's bytes beyond the standard 128, kept as they were. */
  readonly extra: Uint8Array;
}

export type HeaderProblem = string;

/** Decodes a header sector; returns the header or what is wrong with it (signature, size, CRC). */
export function decodeHeader(sector: Uint8Array): GptHeader | HeaderProblem {
  const view = Buffer.from(sector.buffer, sector.byteOffset, sector.byteLength);
  if (view.toString('latin1', 0, 8) !== GPT_SIGNATURE) return 'no "EFI PART" signature';
  const headerSize = view.readUInt32LE(12);
  if (headerSize < GPT_HEADER_SIZE || headerSize > view.length) return `header size ${headerSize} is out of range`;
  const storedCrc = view.readUInt32LE(16);
  const copy = Buffer.from(view.subarray(0, headerSize));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== storedCrc) return 'header CRC32 mismatch';
  return {
    revision: view.readUInt32LE(8),
    headerSize,
    currentLba: view.readBigUInt64LE(24),
    backupLba: view.readBigUInt64LE(32),
    firstUsableLba: view.readBigUInt64LE(40),
    lastUsableLba: view.readBigUInt64LE(48),
    diskGuid: bytesToGuid(view.subarray(56, 72)),
    entriesLba: view.readBigUInt64LE(72),
    entryCount: view.readUInt32LE(80),
    entrySize: view.readUInt32LE(84),
    entriesCrc32: view.readUInt32LE(88),
  };
}

/** Encodes a header into a whole sector, computing its CRC32 (bytes beyond headerSize stay zero). */
export function encodeHeader(header: GptHeader, sectorSize: number): Uint8Array {
  const view = Buffer.alloc(sectorSize);
  view.write(GPT_SIGNATURE, 0, 'latin1');
  view.writeUInt32LE(header.revision, 8);
  view.writeUInt32LE(header.headerSize, 12);
  view.writeBigUInt64LE(header.currentLba, 24);
  view.writeBigUInt64LE(header.backupLba, 32);
  view.writeBigUInt64LE(header.firstUsableLba, 40);
  view.writeBigUInt64LE(header.lastUsableLba, 48);
  Buffer.from(guidToBytes(header.diskGuid)).copy(view, 56);
  view.writeBigUInt64LE(header.entriesLba, 72);
  view.writeUInt32LE(header.entryCount, 80);
  view.writeUInt32LE(header.entrySize, 84);
  view.writeUInt32LE(header.entriesCrc32, 88);
  view.writeUInt32LE(crc32(view.subarray(0, header.headerSize)), 16);
  return view;
}

export function entryArrayBytes(header: Pick<GptHeader, 'entryCount' | 'entrySize'>): number {
  return header.entryCount * header.entrySize;
}

export function decodeEntries(bytes: Uint8Array, header: Pick<GptHeader, 'entryCount' | 'entrySize'>): GptEntry[] {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: GptEntry[] = [];
  for (let index = 0; index < header.entryCount; index++) {
    const at = index * header.entrySize;
    const typeGuid = bytesToGuid(view.subarray(at, at + 16));
    if (typeGuid === ZERO_GUID) continue;
    const nameBytes = view.subarray(at + 56, at + 128);
    const end = findUtf16Terminator(nameBytes);
    entries.push({
      index,
      typeGuid,
      uniqueGuid: bytesToGuid(view.subarray(at + 16, at + 32)),
      firstLba: view.readBigUInt64LE(at + 32),
      lastLba: view.readBigUInt64LE(at + 40),
      attributes: view.readBigUInt64LE(at + 48),
      name: nameBytes.toString('utf16le', 0, end),
      extra: Uint8Array.from(view.subarray(at + 128, at + header.entrySize)),
    });
  }
  return entries;
}

function findUtf16Terminator(bytes: Buffer): number {
  for (let i = 0; i + 1 < bytes.length; i += 2) if (bytes[i] === 0 && bytes[i + 1] === 0) return i;
  return bytes.length;
}

export function encodeEntries(entries: readonly GptEntry[], header: Pick<GptHeader, 'entryCount' | 'entrySize'>): Uint8Array {
  const view = Buffer.alloc(entryArrayBytes(header));
  for (const entry of entries) {
    const at = entry.index * header.entrySize;
    Buffer.from(guidToBytes(entry.typeGuid)).copy(view, at);
    Buffer.from(guidToBytes(entry.uniqueGuid)).copy(view, at + 16);
    view.writeBigUInt64LE(entry.firstLba, at + 32);
    view.writeBigUInt64LE(entry.lastLba, at + 40);
    view.writeBigUInt64LE(entry.attributes, at + 48);
    view.write(entry.name.slice(0, 36), at + 56, 72, 'utf16le');
    Buffer.from(entry.extra).copy(view, at + 128);
  }
  return view;
}

export function entriesCrc(bytes: Uint8Array): number {
  return crc32(bytes);
}

/** True when LBA 0 holds an MBR with a protective (type 0xEE) partition. */
export function hasProtectiveMbr(sector0: Uint8Array): boolean {
  if (sector0[510] !== 0x55 || sector0[511] !== 0xaa) return false;
  for (let slot = 0; slot < 4; slot++) if (sector0[446 + slot * 16 + 4] === 0xee) return true;
  return false;
}
