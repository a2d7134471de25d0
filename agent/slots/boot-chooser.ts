// The BootChooser port: what the agent asks of a bootloader's A/B state, whatever stores it.

export const SLOT_NAMES = ['USR-A', 'USR-B'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];

/** Boot flags of one slot, in cgpt/gptprio terms whatever the bootloader stores. */
export interface SlotFlags {
  /** 0 = never boot; higher boots first. 0..15. */
  readonly priority: number;
  /** Boot attempts left before the bootloader gives up on an unconfirmed slot. 0..15. */
  readonly tries: number;
  /** Set once the slot has booted and passed the health gate. */
  readonly successful: boolean;
}

export interface SlotState extends SlotFlags {
  readonly name: SlotName;
  /** GPT unique partition GUID, lower case. */
  readonly partuuid: string;
  /** 1-based GPT partition number. */
  readonly partition: number;
}

export interface BootState {
  readonly slots: readonly SlotState[];
  /** The slot the bootloader will pick on the next boot, or null when none is bootable. */
  readonly next: SlotName | null;
  /** Problems found in the boot-flag store that did not stop the read (a damaged GPT copy). */
  readonly warnings: readonly string[];
}

export interface BootChooser {
  /** Which bootloader mechanism holds the flags: GPT attribute bits or the GRUB environment block. */
  readonly kind: 'gptprio' | 'grubenv';
  read(): Promise<BootState>;
  /** Make `slot` the next boot on trial: successful=0, tries=N, prioritized. */
  stage(slot: SlotName, tries: number): Promise<BootState>;
  /** Confirm `slot` after a healthy boot: successful=1, tries=0, prioritized. */
  markGood(slot: SlotName): Promise<BootState>;
  /** Take `slot` out of the boot order before its content changes: priority=0, tries=0, successful=0. */
  markUnbootable(slot: SlotName): Promise<BootState>;
  /** Make the slot other than `booted` the next boot; refused unless that slot was marked successful. */
  rollback(booted: SlotName): Promise<BootState>;
}

export function otherSlot(slot: SlotName): SlotName {
  return slot === 'USR-A' ? 'USR-B' : 'USR-A';
}

export function isSlotName(value: string): value is SlotName {
  return (SLOT_NAMES as readonly string[]).includes(value);
}
