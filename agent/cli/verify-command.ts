// `slipway verify [SLOT]`: checks a slot offline against the dm-verity root hash recorded for it (never
// against anything the slot itself says): the whole tree and every data block, naming the first bad one.

import { parseArgs } from 'node:util';
import { FileBlockDevice } from '../slots/file-block-device.ts';
import { findBootDisk } from '../slots/boot-disk.ts';
import { findBootedSlot } from '../slots/booted-slot.ts';
import { isSlotName } from '../slots/boot-chooser.ts';
import { openSlot } from '../slots/open-slot.ts';
import { openSlotHashStore } from '../slots/open-boot-chooser.ts';
import { verifySlotVerity } from '../update/slot-verity.ts';
import { EXIT, UsageError } from './cli-error.ts';
import type { BootChooser, SlotName } from '../slots/boot-chooser.ts';
import type { ChooserRequest } from '../slots/open-boot-chooser.ts';
import type { CliIo } from './io.ts';

export interface VerifyDeps {
  readonly io: CliIo;
  readonly openChooser: (request: ChooserRequest) => BootChooser;
}

export const VERIFY_USAGE = `usage:
  slipway verify [SLOT] [--disk PATH] [--grubenv PATH] [--chooser gptprio|grubenv] [--booted SLOT] [--json]
Reads SLOT (USR-A or USR-B; default: the running slot) and checks its dm-verity hash tree and every
data block against the root hash recorded for it in the GRUB environment file (--grubenv, default
/boot/efi/EFI/slipway/grubenv), as the kernel would on each read. Prints the first bad block, if any.
exit codes: 0 the slot verifies; 6 it does not (a flipped bit, a bad sector or tampering: its content
is not what was signed); 5 no root hash is recorded for it; 2 usage.`;

const OPTIONS = {
  disk: { type: 'string' },
  grubenv: { type: 'string', default: '/boot/efi/EFI/slipway/grubenv' },
  chooser: { type: 'string', default: 'gptprio' },
  booted: { type: 'string' },
  'sector-size': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseSlot(value: string, where: string): SlotName {
  const upper = value.toUpperCase();
  if (!isSlotName(upper)) throw new UsageError(`${where}: "${value}" is not a slot; use USR-A or USR-B`);
  return upper;
}

export async function runVerify(argv: readonly string[], deps: VerifyDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    deps.io.stdout(`${VERIFY_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected arguments: ${positionals.slice(1).join(' ')}\n${VERIFY_USAGE}`);
  const kind = values.chooser;
  if (kind !== 'gptprio' && kind !== 'grubenv') throw new UsageError(`--chooser must be gptprio or grubenv, got "${kind}"`);
  const sectorSize = values['sector-size'] === undefined ? undefined : Number(values['sector-size']);
  if (sectorSize !== undefined && sectorSize !== 512 && sectorSize !== 4096) throw new UsageError(`--sector-size must be 512 or 4096, got "${values['sector-size']}"`);
  const disk = values.disk ?? (await findBootDisk(deps.io.host));
  const slot = await (async (): Promise<SlotName> => {
    if (positionals[0] !== undefined) return parseSlot(positionals[0], 'verify');
    // The running slot, found as `slipway slots` finds it.
    const chooser = deps.openChooser({ disk, kind, grubenv: values.grubenv, sectorSize });
    const operator = values.booted !== undefined ? parseSlot(values.booted, '--booted') : deps.io.host.bootedSlot;
    const booted = await findBootedSlot({ ...deps.io.host, bootedSlot: operator }, (await chooser.read()).slots, disk);
    if (!booted.known) throw booted.error;
    return booted.slot;
  })();
  const store = openSlotHashStore({ grubenv: values.grubenv });
  const recorded = store === null ? null : (await store.read())[slot];
  if (recorded === null) {
    const message = `no dm-verity root hash is recorded for ${slot} in ${values.grubenv}: nothing to check it against`;
    deps.io.stdout(values.json ? `${JSON.stringify({ slot, ok: false, recorded: null, problem: 'not-recorded', message })}\n` : `${message}\n`);
    return EXIT.refused;
  }
  const device = await FileBlockDevice.open(disk, sectorSize === undefined ? { writable: false } : { writable: false, sectorSize });
  try {
    const partition = await openSlot(device, slot);
    const result = await verifySlotVerity(partition, recorded);
    if (values.json) {
      deps.io.stdout(`${JSON.stringify({ slot, recorded, ...result })}\n`);
    } else if (result.ok) {
      deps.io.stdout(`${slot} verifies against its recorded root hash ${recorded.rootHash} (${result.dataBlocks} data blocks)\n`);
    } else {
      deps.io.stdout(`${slot} does not verify against its recorded root hash ${recorded.rootHash}: ${result.message}\nfirst bad ${result.problem === 'data' ? 'data' : 'hash'} block: ${result.block} (byte ${result.offset} of ${slot})\n`);
    }
    return result.ok ? EXIT.ok : EXIT.untrusted;
  } finally {
    await device.close();
  }
}
