// One slot's image: the base tree with slipway installed (Node 24 binary, the bundle, units, D-Bus
// policy, the release keyring, the OS's config fragment), os-release naming the version, kernel and
// initramfs at fixed paths for GRUB, made into a read-only squashfs (gzip, which GRUB reads; level 1).

import { ReleaseError } from '../release-errors.ts';
import { execFile } from 'node:child_process';
import { chmod, copyFile, cp, link, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AGENT_NODE_FLAGS } from '../agent-runtime.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..');

export interface SlotImageOptions {
  readonly baseTarball: string;
  readonly version: string;
  /** The esbuild bundle directory (slipway.mjs, its chunks and their maps). */
  readonly bundleDir: string;
  readonly nodeBinary: string;
  readonly keyring: string;
  readonly out: string;
  readonly workDir: string;
  /** Files written into the tree last, path to content: how tests make a deliberately broken release. */
  readonly extraFiles?: Readonly<Record<string, string>>;
}

/** Where the OS looks for its boot pieces, inside each slot. */
export const KERNEL_PATH = '/boot/vmlinuz';
export const INITRD_PATH = '/boot/initrd.img';

const OS_FRAGMENT = `# The OS's defaults; operators and cloud-config override them in /etc/slipway/config.d.
update:
  board: qemu
  keyring: /usr/lib/slipway/release-keys.asc
slots:
  chooser: grubenv
  grubenv: /boot/efi/EFI/slipway/grubenv
`;

async function put(tree: string, path: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(join(tree, path, '..'), { recursive: true });
  await writeFile(join(tree, path), content, { mode });
  await chmod(join(tree, path), mode);
}

/**
 * What Debian's packages enable that has no job on this OS: apt's and dpkg's timers (the root is
 * read-only and replaced whole), e2scrub (it checks LVM volumes; STATE is a plain partition), and
 * podman's auto-update, restart and API services (workloads are systemd units the operator asks for;
 * the API socket stays). Each competed with the boot for the CPU: under QEMU's TCG, podman's two
 * services alone took 15 s of it. /etc is an overlay, so an operator can still enable any of them.
 */
const DISABLED = [
  'timers.target.wants/apt-daily.timer',
  'timers.target.wants/apt-daily-upgrade.timer',
  'timers.target.wants/dpkg-db-backup.timer',
  'timers.target.wants/e2scrub_all.timer',
  'timers.target.wants/podman-auto-update.timer',
  'multi-user.target.wants/e2scrub_reap.service',
  'default.target.wants/podman-auto-update.service',
  'default.target.wants/podman-restart.service',
  'default.target.wants/podman.service',
];

async function enable(tree: string, unit: string, target = 'multi-user.target'): Promise<void> {
  const wants = join(tree, 'etc', 'systemd', 'system', `${target}.wants`);
  await mkdir(wants, { recursive: true });
  await rm(join(wants, unit), { force: true });
  await symlink(`/usr/lib/systemd/system/${unit}`, join(wants, unit));
}

export async function buildSlotImage(options: SlotImageOptions): Promise<void> {
  const tree = await mkdtemp(join(options.workDir, 'tree-'));
  try {
    // Translations, manuals and documentation (bar the licences) are of no use on a host nobody logs
    // into to read them, and every byte is downloaded by every host: 31 MiB less per release (233 to 202).
    await run('tar', ['-C', tree, '-xf', options.baseTarball, '--exclude=./usr/share/locale/*', '--exclude=./usr/share/man/*', '--exclude=./usr/share/info/*']);
    await run('find', [join(tree, 'usr', 'share', 'doc'), '-type', 'f', '!', '-name', 'copyright', '-delete']);
    const lib = join(tree, 'usr', 'lib', 'slipway');
    await mkdir(join(lib, 'config.d'), { recursive: true });
    await copyFile(options.nodeBinary, join(lib, 'node'));
    await chmod(join(lib, 'node'), 0o755);
    for (const file of await readdir(options.bundleDir)) {
      if (file.endsWith('.mjs') || file.endsWith('.mjs.map')) await copyFile(join(options.bundleDir, file), join(lib, file));
    }
    await copyFile(options.keyring, join(lib, 'release-keys.asc'));
    // The agent refuses a keyring or settings directory that group or others could write
    // (ERR_UNSAFE_PERMISSIONS), so their modes are set here, not left to the builder's umask or to
    // the mode of the key file handed in (copyFile keeps it).
    await chmod(join(lib, 'release-keys.asc'), 0o644);
    await chmod(lib, 0o755);
    await chmod(join(lib, 'config.d'), 0o755);
    await put(tree, '/usr/lib/slipway/config.d/00-os.yaml', OS_FRAGMENT);
    await put(tree, '/usr/bin/slipway', `#!/bin/sh\nexec /usr/lib/slipway/node ${AGENT_NODE_FLAGS.join(' ')} /usr/lib/slipway/slipway.mjs "$@"\n`, 0o755);
    for (const unit of await readdir(join(REPO, 'images', 'units'))) {
      await copyFile(join(REPO, 'images', 'units', unit), join(tree, 'usr', 'lib', 'systemd', 'system', unit));
      await enable(tree, unit);
    }
    await copyFile(join(REPO, 'images', 'dbus', 'org.slipway.Agent1.conf'), join(tree, 'usr', 'share', 'dbus-1', 'system.d', 'org.slipway.Agent1.conf'));
    await mkdir(join(tree, 'usr', 'share', 'dbus-1', 'system-services'), { recursive: true });
    await copyFile(join(REPO, 'images', 'dbus', 'org.slipway.Agent1.service'), join(tree, 'usr', 'share', 'dbus-1', 'system-services', 'org.slipway.Agent1.service'));

    await put(tree, '/usr/lib/os-release', `NAME="slipway OS"\nID=slipway\nID_LIKE=debian\nVERSION_ID=${options.version}\nPRETTY_NAME="slipway OS ${options.version}"\n`);
    // The root is read-only: homes live on STATE under /var/home, bound onto /home.
    await put(tree, '/etc/fstab', 'PARTLABEL=EFI-SYSTEM /boot/efi vfat umask=0077,nofail 0 2\n/var/home /home none bind,x-systemd.requires-mounts-for=/var 0 0\n');
    await mkdir(join(tree, 'boot', 'efi'), { recursive: true });
    await put(tree, '/etc/machine-id', '');
    await put(tree, '/etc/hostname', 'localhost\n');
    await put(tree, '/etc/systemd/network/80-dhcp.network', '[Match]\nName=en*\n\n[Network]\nDHCP=yes\n');
    await enable(tree, 'systemd-networkd.service');
    await enable(tree, 'systemd-resolved.service');
    // The root is read-only: /tmp is a tmpfs, homes live under /var.
    await copyFile(join(tree, 'usr', 'share', 'systemd', 'tmp.mount'), join(tree, 'etc', 'systemd', 'system', 'tmp.mount'));
    await enable(tree, 'tmp.mount', 'local-fs.target');
    for (const link of DISABLED) await rm(join(tree, 'etc', 'systemd', 'system', link), { force: true });
    await mkdir(join(tree, 'var', 'home'), { recursive: true });
    await run('chroot', [tree, 'useradd', '--no-create-home', '--home-dir', '/home/core', '--uid', '500', '--user-group', '--groups', 'sudo', '--shell', '/bin/bash', '--comment', 'slipway admin', 'core']);
    await cp(join(tree, 'etc', 'skel'), join(tree, 'var', 'home', 'core'), { recursive: true });
    await run('chown', ['-R', '500:500', join(tree, 'var', 'home', 'core')]);
    // A container image shipped in the OS: a busybox root filesystem podman runs with --rootfs.
    const hello = join(tree, 'usr', 'share', 'slipway', 'hello-rootfs');
    await mkdir(join(hello, 'bin'), { recursive: true });
    await copyFile(join(tree, 'bin', 'busybox'), join(hello, 'bin', 'busybox'));
    await chmod(join(hello, 'bin', 'busybox'), 0o755);
    await symlink('busybox', join(hello, 'bin', 'sh'));

    const boot = join(tree, 'boot');
    const files = await readdir(boot);
    const kernel = files.find((f) => f.startsWith('vmlinuz-'));
    const initrd = files.find((f) => f.startsWith('initrd.img-'));
    if (!kernel || !initrd) throw new ReleaseError('ERR_IMAGE_BUILD', `the base tree has no kernel or initramfs in /boot (${files.join(', ')})`);
    await link(join(boot, kernel), join(tree, KERNEL_PATH));
    await link(join(boot, initrd), join(tree, INITRD_PATH));
    for (const [path, content] of Object.entries(options.extraFiles ?? {})) {
      // Replace rather than write through: the kernel and initramfs paths are hard links.
      await rm(join(tree, path), { force: true });
      await put(tree, path, content);
    }
    await rm(options.out, { force: true });
    // gzip, because GRUB reads the kernel from this squashfs and bookworm's GRUB has no zstd for it.
    // Level 1: measured on this tree with node inside, 11.7 s and 202 MiB against level 6's 26 s and
    // 186 MiB (and zstd 3's 5.4 s and 191 MiB); an ext4 without journal took 2.4 s but 490 MB.
    await run('mksquashfs', [tree, options.out, '-comp', 'gzip', '-Xcompression-level', '1', '-noappend', '-no-progress', '-quiet'], { maxBuffer: 16 * 1024 * 1024 });
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
}
