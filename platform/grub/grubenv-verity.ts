// Each slot's dm-verity root hash and hash offset in the GRUB environment block, as the agent records
// them from a verified manifest and GRUB's script passes them to the kernel: A_VERITY, A_VERITY_OFFSET,
// B_VERITY, B_VERITY_OFFSET, each at a fixed width after the boot flags, so a change rewrites bytes in place.

/** A slot by its letter: USR-A is A. */
export type Letter = 'A' | 'B';

export const VERITY_KEYS = ['A_VERITY', 'A_VERITY_OFFSET', 'B_VERITY', 'B_VERITY_OFFSET'] as const;
export type VerityKey = (typeof VERITY_KEYS)[number];

export const ROOT_HASH_WIDTH = 64;
export const OFFSET_WIDTH = 16;
export const VERITY_WIDTH: Record<VerityKey, number> = { A_VERITY: ROOT_HASH_WIDTH, A_VERITY_OFFSET: OFFSET_WIDTH, B_VERITY: ROOT_HASH_WIDTH, B_VERITY_OFFSET: OFFSET_WIDTH };

/** No root hash recorded: the slot was never written with a verity release, or is being overwritten. */
export const NO_ROOT_HASH = '0'.repeat(ROOT_HASH_WIDTH);
/**
 * The hash offset in bytes, decimal, padded on the right with spaces: never with leading zeros,
 * which the initramfs's shell arithmetic (dash, busybox: `$((010))` is 8) reads as octal. GRUB's
 * script passes the value unquoted, so the padding only separates kernel parameters.
 */
export function offsetValue(offset: number | null): string {
  return String(offset ?? 0).padEnd(OFFSET_WIDTH, ' ');
}

export interface RecordedVerity {
  readonly rootHash: string;
  readonly hashOffset: number;
}

export function verityKeys(letter: Letter): { readonly hash: VerityKey; readonly offset: VerityKey } {
  return letter === 'A' ? { hash: 'A_VERITY', offset: 'A_VERITY_OFFSET' } : { hash: 'B_VERITY', offset: 'B_VERITY_OFFSET' };
}

/** The fixed-width values for a slot: the recorded hash, or none. */
export function verityValues(verity: RecordedVerity | null): { readonly hash: string; readonly offset: string } {
  return { hash: verity?.rootHash ?? NO_ROOT_HASH, offset: offsetValue(verity?.hashOffset ?? null) };
}

/** What a slot's two values say: a hash and its offset, or null for none or anything not canonical. */
export function readVerity(hash: string | undefined, offset: string | undefined): RecordedVerity | null {
  if (hash === undefined || offset === undefined || !/^[0-9a-f]{64}$/.test(hash) || hash === NO_ROOT_HASH) return null;
  if (offset.length !== OFFSET_WIDTH || !/^(0|[1-9][0-9]*) *$/.test(offset)) return null;
  const hashOffset = Number(offset.trimEnd());
  return hashOffset > 0 && hashOffset % 4096 === 0 && Number.isSafeInteger(hashOffset) ? { rootHash: hash, hashOffset } : null;
}

/** Whether a stored value is one slipway writes at its width: the check for the fixed layout. */
export function canonicalVerityValue(key: VerityKey, raw: string): boolean {
  if (raw.length !== VERITY_WIDTH[key]) return false;
  return key.endsWith('_OFFSET') ? /^(0|[1-9][0-9]*) *$/.test(raw) : /^[0-9a-f]{64}$/.test(raw);
}
