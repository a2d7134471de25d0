// Whether this boot's root is verified: the root filesystem's device is a dm-verity target over the
// root hash the agent recorded for the booted slot. The facts (the root's device number, its
// device-mapper name and table) come through RootDeviceFacts; the judgement here is pure.

/** The kernel's verity table line, as `dmsetup table NAME` prints it (Documentation/admin-guide/device-mapper/verity.rst). */
export interface VerityTable {
  readonly dataDevice: string;
  readonly hashDevice: string;
  readonly dataBlocks: number;
  readonly hashStartBlock: number;
  readonly hashBlockSize: number;
  readonly algorithm: string;
  readonly rootHash: string;
}

/** What the host says about the device the root filesystem is mounted from. */
export interface RootDeviceFacts {
  /** major:minor of the root mount, from /proc/self/mountinfo. */
  rootDevice(): Promise<string>;
  /** The device-mapper name of major:minor; null: not a device-mapper device. */
  dmName(device: string): Promise<string | null>;
  /** The table of a device-mapper device: one line per target. */
  dmTable(name: string): Promise<string>;
}

/** What the root is and whether it is what was recorded; `verified` only with a verity target over the recorded hash. */
export interface VerityView {
  /** The booted slot's recorded root hash; null: none recorded (a release without a tree). */
  readonly recorded: string | null;
  /** The root's device (major:minor) and device-mapper name; null name: a plain partition. */
  readonly device: string | null;
  readonly dmName: string | null;
  /** The live verity target's root hash; null: the root is not a verity device. */
  readonly rootHash: string | null;
  readonly verified: boolean;
  readonly detail: string;
}

/** The single verity target of a table, or why it is not one. */
export function parseVerityTable(table: string): VerityTable | string {
  const lines = table.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length !== 1) return `${lines.length} targets, not one verity target`;
  const words = (lines[0] ?? '').split(/\s+/);
  const [, , target, version, dataDevice, hashDevice, , hashBlockSize, dataBlocks, hashStartBlock, algorithm, rootHash] = words;
  if (target !== 'verity') return `a ${target ?? 'missing'} target, not verity`;
  if (version === undefined || rootHash === undefined || dataDevice === undefined || hashDevice === undefined || algorithm === undefined) return `a verity table with too few fields: ${lines[0] ?? ''}`;
  const number = (raw: string | undefined): number => (raw !== undefined && /^[0-9]+$/.test(raw) ? Number(raw) : NaN);
  return { dataDevice, hashDevice, dataBlocks: number(dataBlocks), hashStartBlock: number(hashStartBlock), hashBlockSize: number(hashBlockSize), algorithm, rootHash: rootHash.toLowerCase() };
}

/** Looks at the root now. A fact that cannot be read makes the root unverified, with what failed. */
export async function inspectRoot(facts: RootDeviceFacts, recorded: string | null): Promise<VerityView> {
  const view = { recorded, device: null as string | null, dmName: null as string | null, rootHash: null as string | null };
  try {
    view.device = await facts.rootDevice();
    view.dmName = await facts.dmName(view.device);
    if (view.dmName === null) return { ...view, verified: false, detail: `the root is ${view.device}, a plain block device, not dm-verity` };
    const table = parseVerityTable(await facts.dmTable(view.dmName));
    if (typeof table === 'string') return { ...view, verified: false, detail: `the root ${view.dmName} (${view.device}) is ${table}` };
    view.rootHash = table.rootHash;
    if (recorded === null) return { ...view, verified: false, detail: `the root ${view.dmName} is verified by root hash ${table.rootHash}, but none is recorded for the booted slot` };
    if (table.rootHash !== recorded) return { ...view, verified: false, detail: `the root ${view.dmName} is verified by root hash ${table.rootHash}, not the recorded ${recorded}` };
    return { ...view, verified: true, detail: `the root ${view.dmName} (${view.device}) is dm-verity over ${table.dataDevice} with the recorded root hash ${recorded}` };
  } catch (error) {
    return { ...view, verified: false, detail: `cannot tell what the root is: ${error instanceof Error ? error.message : String(error)}` };
  }
}
