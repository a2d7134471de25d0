// The grubenv chooser's flags in the slot engine's terms: which slot GRUB boots next (the model the
// generated grub.cfg must match), and the conversion to and from gptprio's priority/tries/successful.
// A slot is bootable when X_OK=1 or X_TRY>0; GRUB boots the first bootable slot in ORDER, then in "A B".

import { SlotError } from './slot-errors.ts';
import type { SlotName } from './boot-chooser.ts';
import type { GrubenvState, Letter } from '../../platform/grub/grubenv-flags.ts';
import type { RuleSlot } from './slot-rules.ts';
import { MAX_GRUBENV_TRIES } from '../../platform/grub/grubenv-flags.ts';

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
    if (!slot) throw new SlotError('ERR_SLOTS_MISSING', `no ${slotOf(letter)} among the slots`);
    return slot;
  };
  const a = flagsOf('A');
  const b = flagsOf('B');
  const ok = (s: RuleSlot): string => (s.priority > 0 && s.successful ? '1' : '0');
  const tries = (s: RuleSlot): string => String(s.priority > 0 ? Math.min(s.tries, MAX_GRUBENV_TRIES) : 0);
  return { ORDER: b.priority > a.priority ? 'B A' : 'A B', A_OK: ok(a), A_TRY: tries(a), B_OK: ok(b), B_TRY: tries(b) };
}

