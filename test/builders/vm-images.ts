// What the VM suites need on the host, named once so each suite skips with the same stated reason
// (CI installs all of it, so nothing skips there).

import { missingTools } from './require-tools.ts';

export const VM_TOOLS = missingTools({ 'qemu-system-x86_64': 'qemu-system-x86', mmdebstrap: 'mmdebstrap', mksquashfs: 'squashfs-tools', 'grub-mkstandalone': 'grub-efi-amd64-bin', 'mkfs.vfat': 'dosfstools', mcopy: 'mtools' });
