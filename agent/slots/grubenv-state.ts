// Boot flags in the GRUB environment (RAUC's variable names, gptprio's meaning): ORDER "A B" or
// "B A" ranks the slots, X_OK is the successful flag, X_TRY the tries left ("0".."9"). A slot is
// bootable when X_OK=1 or X_TRY>0; GRUB boots the first bootable slot in ORDER, then in "A B".

import type { SlotName } from './boot-chooser.ts';
import type { RuleSlot } from './slot-rules.ts';

export const MAX_GRUBENV_TRIES = 9;

export type Letter = 'A' | 'B';

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

const slotOf = (letter: Letter): SlotName => (letter === 'A' ? 'USR-A' : 'USR-B');

function bootable(state: GrubenvState, letter: Letter): boolean {
  return state[`${letter}_OK`] === '1' || /^[1-9]$/.test(state[`${letter}_TRY`]);
}

/** The letters GRUB walks: ORDER as written (a torn "B B" included), then "A B" as a fallback. */
function walk(state: GrubenvState): Letter[] {
  const fromOrder = state.ORDER.split(' ').filter((l): l is Letter => l === 'A' || l === 'B');
  return [...fromOrder, 'A', 'B'];
}

/** What the generated grub.cfg boots, modelled exactly (tests check the script against this). */
export function grubenvNext(state: GrubenvState): SlotName | null {
  const letter = walk(state).find((l) => bootable(state, l));
  return letter ? slotOf(letter) : null;
}

/** Flags in gptprio terms: bootable slots ranked by walk order (top = count of bootable), others 0. */
export function toRuleSlots(state: GrubenvState): RuleSlot[] {
  const ranked = [...new Set(walk(state))].filter((l) => bootable(state, l));
  return (['A', 'B'] as const).map((letter) => ({
    name: slotOf(letter),
    priority: ranked.includes(letter) ? ranked.length - ranked.indexOf(letter) : 0,
    tries: Number(state[`${letter}_TRY`]) || 0,
    successful: state[`${letter}_OK`] === '1',
  }));
}

export function fromRuleSlots(slots: readonly RuleSlot[]): GrubenvState {
  const flagsOf = (letter: Letter): RuleSlot => {
    const slot = slots.find((s) => s.name === slotOf(letter));
    if (!slot) throw new Error(`no ${slotOf(letter)} among the slots`);
    return slot;
  };
  const a = flagsOf('A');
  const b = flagsOf('B');
  const ok = (s: RuleSlot): string => (s.priority > 0 && s.successful ? '1' : '0');
  const tries = (s: RuleSlot): string => String(s.priority > 0 ? Math.min(s.tries, MAX_GRUBENV_TRIES) : 0);
  return { ORDER: b.priority > a.priority ? 'B A' : 'A B', A_OK: ok(a), A_TRY: tries(a), B_OK: ok(b), B_TRY: tries(b) };
}

