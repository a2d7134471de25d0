// slipway's boot flags in the GRUB environment block (RAUC's variable names, gptprio's meaning), as
// both the image builder and the agent's grubenv chooser write them: ORDER ranks the slots, X_OK is
// the successful flag, X_TRY the tries left. Each at a fixed width, so an update rewrites bytes in place.

import { escapeGrubenvValue, serializeGrubenv } from './grubenv-block.ts';
import { canonicalVerityValue, NO_ROOT_HASH, offsetValue, VERITY_KEYS } from './grubenv-verity.ts';

export const MAX_GRUBENV_TRIES = 9;

export type { Letter } from './grubenv-verity.ts';

export interface GrubenvState {
  readonly ORDER: string;
  readonly A_OK: string;
  readonly A_TRY: string;
  readonly B_OK: string;
  readonly B_TRY: string;
}

export const STATE_KEYS = ['ORDER', 'A_OK', 'A_TRY', 'B_OK', 'B_TRY'] as const;
export type StateKey = (typeof STATE_KEYS)[number];
/** Fixed value widths: every value stays at the same bytes whatever it holds. */
export const VALUE_WIDTH: Record<StateKey, number> = { ORDER: 3, A_OK: 1, A_TRY: 1, B_OK: 1, B_TRY: 1 };
export const DEFAULT_STATE: GrubenvState = { ORDER: 'A B', A_OK: '0', A_TRY: '0', B_OK: '0', B_TRY: '0' };

export const CANONICAL: Record<StateKey, RegExp> = { ORDER: /^(A B|B A)$/, A_OK: /^[01]$/, A_TRY: /^[0-9]$/, B_OK: /^[01]$/, B_TRY: /^[0-9]$/ };

/**
 * The fixed-width values that make the generated grub.cfg boot exactly as `state` does: OK is only
 * "1", TRY only one digit (the script knows no other), and ORDER only its first A or B word.
 */
export function canonicalState(state: GrubenvState): GrubenvState {
  const first = state.ORDER.split(/\s+/).find((word) => word === 'A' || word === 'B');
  const ok = (value: string): string => (value === '1' ? '1' : '0');
  const tries = (value: string): string => (/^[0-9]$/.test(value) ? value : '0');
  return { ORDER: first === 'B' ? 'B A' : 'A B', A_OK: ok(state.A_OK), A_TRY: tries(state.A_TRY), B_OK: ok(state.B_OK), B_TRY: tries(state.B_TRY) };
}

/**
 * The block the image builder writes to the ESP: our five variables first at their fixed widths,
 * then each slot's verity values (platform/grub/grubenv-verity.ts; kept from `others` when canonical,
 * none otherwise), so every value sits at a fixed offset (inside the first 512-byte sector), then
 * `others` as given. The flags sit at the same offsets as in a block from before the verity values,
 * so converting such a block rewrites only bytes after them. Hosts built this way never need the
 * one-time conversion in blockWrites.
 */
export function fixedLayoutBlock(state: GrubenvState, others: readonly { name: string; raw: string }[], path: string): Uint8Array {
  const ours = STATE_KEYS.map((key) => ({ name: key, raw: escapeGrubenvValue(canonicalState(state)[key]) }));
  const verity = VERITY_KEYS.map((key) => {
    const kept = others.findLast((v) => v.name === key)?.raw;
    const none = key.endsWith('_OFFSET') ? offsetValue(null) : NO_ROOT_HASH;
    return { name: key, raw: kept !== undefined && canonicalVerityValue(key, kept) ? kept : none };
  });
  const mine: readonly string[] = [...STATE_KEYS, ...VERITY_KEYS];
  return serializeGrubenv([...ours, ...verity, ...others.filter((v) => !mine.includes(v.name))], path);
}

