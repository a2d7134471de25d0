// The demo until the VM demo exists: builds a CoreOS-layout disk image with sgdisk and walks it
// through an update's life with the real `slipway slots` command, checking with `sgdisk -v`.

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';

const disk = 'build/demo/disk.img';
const USR = '5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6';

function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
}

function step(title: string, ...args: string[]): void {
  console.log(`\n\u001b[1m== ${title}\u001b[0m\n$ slipway ${args.join(' ')}`);
  process.stdout.write(sh(process.execPath, ['agent/main.ts', ...args]));
}

mkdirSync('build/demo', { recursive: true });
rmSync(disk, { force: true });
writeFileSync(disk, '');
truncateSync(disk, 256 * 1024 * 1024);
// CoreOS numbering: 1 EFI-SYSTEM, 2 BIOS-BOOT, 3 USR-A, 4 USR-B, 6 OEM, 9 ROOT; USR-A installed and good.
sh('sgdisk', [
  '-o',
  ...['-n', '1:2048:+32M', '-t', '1:ef00', '-c', '1:EFI-SYSTEM'],
  ...['-n', '2:0:+2M', '-t', '2:21686148-6449-6e6f-744e-656564454649', '-c', '2:BIOS-BOOT'],
  ...['-n', '3:0:+64M', '-t', `3:${USR}`, '-c', '3:USR-A'],
  ...['-n', '4:0:+64M', '-t', `4:${USR}`, '-c', '4:USR-B'],
  ...['-n', '6:0:+16M', '-t', '6:0fc63daf-8483-4772-8e79-3d69d8477de4', '-c', '6:OEM'],
  ...['-n', '9:0:0', '-t', '9:3884dd41-8582-4404-b9a8-e9b84f2df50e', '-c', '9:ROOT'],
  ...['-A', '3:set:48', '-A', '3:set:56'],
  disk,
]);
console.log(`built ${disk} (256 MiB sparse, CoreOS partition layout, made by sgdisk)`);

step('A fresh host: USR-A is installed and marked good; USR-B is empty', 'slots', '--disk', disk, '--booted', 'USR-A');
step('Before writing a new image into USR-B, take it out of the boot order', 'slots', 'mark-unbootable', 'USR-B', '--disk', disk, '--booted', 'USR-A');
step('Image written and verified: stage USR-B for one trial boot', 'slots', 'stage', 'USR-B', '--tries', '1', '--disk', disk, '--booted', 'USR-A');
console.log('\n(GRUB gptprio now boots USR-B and spends its try; if USR-B fails, the next boot falls back to USR-A.)');
step('USR-B booted and passed the health gate: mark it good', 'slots', 'mark-good', 'USR-B', '--disk', disk, '--booted', 'USR-B');
step('An operator rolls back: USR-A is successful, so it may become the next boot', 'slots', 'rollback', '--disk', disk, '--booted', 'USR-B');
step('The same state as JSON, for scripts', 'slots', '--disk', disk, '--booted', 'USR-B', '--json');

console.log('\n\u001b[1m== sgdisk agrees the table slipway wrote is sound\u001b[0m\n$ sgdisk -v');
process.stdout.write(sh('sgdisk', ['-v', disk]));
process.stdout.write(sh('sgdisk', ['-i', '3', disk]).split('\n').filter((l) => /name|Attribute/.test(l)).join('\n') + '\n');
process.stdout.write(sh('sgdisk', ['-i', '4', disk]).split('\n').filter((l) => /name|Attribute/.test(l)).join('\n') + '\n');
