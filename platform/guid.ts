// GUIDs as GPT stores them: the first three fields little-endian, the last two as bytes.

import { InternalError } from './internal-error.ts';

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isGuid(text: string): boolean {
  return GUID_PATTERN.test(text.toLowerCase());
}

export function guidToBytes(guid: string): Uint8Array {
  const text = guid.toLowerCase();
  if (!GUID_PATTERN.test(text)) throw new InternalError(`not a GUID: ${guid}`);
  const hex = Buffer.from(text.replaceAll('-', ''), 'hex');
  const bytes = Buffer.alloc(16);
  hex.subarray(0, 4).reverse().copy(bytes, 0);
  hex.subarray(4, 6).reverse().copy(bytes, 4);
  hex.subarray(6, 8).reverse().copy(bytes, 6);
  hex.subarray(8, 16).copy(bytes, 8);
  return bytes;
}

export function bytesToGuid(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  const hex = (part: Buffer): string => part.toString('hex');
  return [
    hex(Buffer.from(b.subarray(0, 4)).reverse()),
    hex(Buffer.from(b.subarray(4, 6)).reverse()),
    hex(Buffer.from(b.subarray(6, 8)).reverse()),
    hex(b.subarray(8, 10)),
    hex(b.subarray(10, 16)),
  ].join('-');
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
/** CoreOS /usr partition type: the A and B slots. */
export const COREOS_USR_TYPE = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';
