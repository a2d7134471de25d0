// The EFI system partition: a standalone GRUB (grub-mkstandalone) whose embedded grub.cfg is
// slipway's A/B chooser, and the GRUB environment block in slipway's fixed layout with USR-A good.
// Built as a FAT16 image with mtools, no mounts. A provider's or lab's kernel arguments come from an
// OEM filesystem's grub.cfg, as on Flatcar.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { grubCfgChooser } from '../../platform/grub/grub-cfg.ts';
import { DEFAULT_STATE, fixedLayoutBlock } from '../../platform/grub/grubenv-flags.ts';
import { verityValues } from '../../platform/grub/grubenv-verity.ts';
import type { RecordedVerity } from '../../platform/grub/grubenv-verity.ts';
import { INITRD_PATH, KERNEL_PATH } from './slot-image.ts';

const run = promisify(execFile);

/** Where GRUB and the agent find the environment block on the ESP. */
export const ESP_GRUBENV = '/EFI/slipway/grubenv';
export const ESP_SIZE_MIB = 64;

const GRUB_MODULES = ['part_gpt', 'fat', 'squash4', 'gzio', 'loadenv', 'linux', 'normal', 'search', 'search_fs_file', 'search_label', 'regexp', 'test', 'echo', 'serial', 'terminal', 'configfile', 'all_video'];

/**
 * The grub.cfg embedded in BOOTX64.EFI: find the ESP, choose a slot, boot its kernel with the slot
 * named on the command line. `panic=10` makes a kernel (or initramfs) that cannot reach user space
 * reboot after 10 s instead of waiting forever (Debian's default), so GRUB's tries undo it.
 *
 * A filesystem labelled OEM (a provider's disk, or the lab's) may hold a grub.cfg that sets
 * `linux_append`, as Flatcar's OEM partition does: e.g. `cloud-config-url=…`. It comes before
 * slipway's own arguments, so for a parameter given twice (root=, slipway_fallback=) slipway's wins.
 */
export function grubCfg(): string {
  const entry = (letter: 'A' | 'B', partition: number): string =>
    [
      `menuentry "slipway OS (USR-${letter})" --id slipway-usr-${letter.toLowerCase()} {`,
      `  linux (\${disk},gpt${partition})${KERNEL_PATH} \${linux_append} root=PARTLABEL=USR-${letter} rootfstype=squashfs ro console=ttyS0,115200 panic=10 slipway_fallback=\${slipway_fallback} slipway.verity=\${${letter}_VERITY} slipway.verity_offset=\${${letter}_VERITY_OFFSET}`,
      `  initrd (\${disk},gpt${partition})${INITRD_PATH}`,
      '}',
    ].join('\n');
  return [
    'serial --unit=0 --speed=115200',
    'terminal_input serial console',
    'terminal_output serial console',
    'set timeout=0',
    `search --no-floppy --set=esp --file ${ESP_GRUBENV}`,
    'regexp --set=1:disk "^([^,]+)," "$esp"',
    'set linux_append=""',
    'set oem=""',
    'search --no-floppy --set=oem --label OEM',
    'if [ -n "$oem" ]; then',
    '  if [ -f ($oem)/grub.cfg ]; then source ($oem)/grub.cfg; fi',
    'fi',
    grubCfgChooser({ envFile: `($esp)${ESP_GRUBENV}` }),
    entry('A', 3),
    entry('B', 4),
    '',
  ].join('\n');
}

/** `verityA`: slot A's root hash and offset as built, recorded as the agent records an installed slot's. */
export async function buildEspImage(out: string, workDir: string, verityA: RecordedVerity | null): Promise<void> {
  const dir = await mkdtemp(join(workDir, 'esp-'));
  try {
    await writeFile(join(dir, 'grub.cfg'), grubCfg());
    const efi = join(dir, 'BOOTX64.EFI');
    await run('grub-mkstandalone', ['-O', 'x86_64-efi', '-o', efi, `--modules=${GRUB_MODULES.join(' ')}`, '--locales=', '--fonts=', '--themes=', `boot/grub/grub.cfg=${join(dir, 'grub.cfg')}`]);
    const env = join(dir, 'grubenv');
    const recorded = verityValues(verityA);
    await writeFile(env, fixedLayoutBlock({ ...DEFAULT_STATE, A_OK: '1' }, [{ name: 'A_VERITY', raw: recorded.hash }, { name: 'A_VERITY_OFFSET', raw: recorded.offset }], env));
    await rm(out, { force: true });
    await run('mkfs.vfat', ['-C', '-F', '16', '-n', 'EFI-SYSTEM', out, String(ESP_SIZE_MIB * 1024)]);
    const mtools = { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } };
    await run('mmd', ['-i', out, '::/EFI', '::/EFI/BOOT', '::/EFI/slipway'], mtools);
    await run('mcopy', ['-i', out, efi, '::/EFI/BOOT/BOOTX64.EFI'], mtools);
    await run('mcopy', ['-i', out, env, `::${ESP_GRUBENV}`], mtools);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
