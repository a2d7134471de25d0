// The OS's base tree: Debian bookworm with systemd, the cloud kernel, podman and what slipway needs,
// built by mmdebstrap into a tarball cached under a key of everything that goes into it, so a
// rebuild after a code change skips it. The initramfs learns to overlay /etc and bind /var from STATE,
// and to mount the slot through dm-verity when GRUB passes its root hash.

import { ReleaseError } from '../release-errors.ts';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Debian's mirrors, given explicitly: without them mmdebstrap reads sources from a non-terminal stdin. */
export const MIRRORS = [
  'deb http://deb.debian.org/debian bookworm main',
  'deb http://deb.debian.org/debian bookworm-updates main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
] as const;

function mmdebstrap(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const child = spawn('mmdebstrap', [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-8_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new ReleaseError('ERR_IMAGE_BUILD', `mmdebstrap exited with ${code}:\n${output}`))));
  });
}

export const BASE_PACKAGES = [
  'systemd', 'systemd-sysv', 'systemd-resolved', 'dbus', 'udev', 'kmod', 'util-linux', 'iproute2',
  'linux-image-cloud-amd64', 'initramfs-tools',
  // container workloads; podman-docker: the `docker` command of CoreOS-era units, on podman
  'podman', 'podman-docker', 'busybox-static', 'ca-certificates',
  // slipway: node needs libstdc++; accounts for cloud-config; config-drive readers; the harness's guest agent
  'libstdc++6', 'passwd', 'login', 'mtools', 'xorriso', 'e2fsprogs', 'qemu-guest-agent',
  // dm-verity: veritysetup for the initramfs, dmsetup for the health gate's look at the root's table
  'cryptsetup-bin', 'dmsetup',
] as const;

/**
 * Modules the initramfs must carry for a virtio disk, the squashfs slot, the /etc overlay, the ESP and dm-verity;
 * with MODULES=list it carries only these (and what they depend on), not Debian's "most": 7 MB, not
 * 16 MB, to read and unpack at every boot, and fewer drivers for its udev to go through.
 */
const INITRAMFS_MODULES = ['virtio_blk', 'virtio_pci', 'squashfs', 'overlay', 'vfat', 'dm_verity'];
const INITRAMFS_CONF = 'MODULES=list\n';
const STATE_SCRIPT = join(import.meta.dirname, 'initramfs-slipway-state.sh');
const VERITY_SCRIPT = join(import.meta.dirname, 'initramfs-slipway-verity.sh');
const VERITY_HOOK = join(import.meta.dirname, 'initramfs-slipway-verity-hook.sh');

export async function baseRootfs(cacheDir: string, log: (message: string) => void): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify({ suite: 'bookworm', mirrors: MIRRORS, packages: BASE_PACKAGES, modules: INITRAMFS_MODULES, conf: INITRAMFS_CONF }));
  for (const script of [STATE_SCRIPT, VERITY_SCRIPT, VERITY_HOOK]) hash.update(await readFile(script));
  const key = hash.digest('hex').slice(0, 16);
  const tarball = join(cacheDir, `base-${key}.tar`);
  if (await stat(tarball).then(() => true, () => false)) {
    log(`base tree: cached ${tarball}`);
    return tarball;
  }
  await mkdir(cacheDir, { recursive: true });
  const modules = join(cacheDir, `modules-${key}`);
  await writeFile(modules, `${INITRAMFS_MODULES.join('\n')}\n`);
  log(`base tree: mmdebstrap bookworm (${BASE_PACKAGES.length} packages), about two minutes`);
  // mmdebstrap picks the output format from the name: keep .tar at the end.
  const partial = join(cacheDir, `base-${key}.partial.tar`);
  await mmdebstrap([
    '--mode=root',
    '--variant=minbase',
    '--format=tar',
    `--include=${BASE_PACKAGES.join(',')}`,
    `--customize-hook=install -m 0755 ${STATE_SCRIPT} "$1/etc/initramfs-tools/scripts/init-bottom/slipway-state"`,
    `--customize-hook=install -m 0755 ${VERITY_SCRIPT} "$1/etc/initramfs-tools/scripts/local-top/slipway-verity"`,
    `--customize-hook=install -m 0755 ${VERITY_HOOK} "$1/etc/initramfs-tools/hooks/slipway-verity"`,
    `--customize-hook=cat ${modules} >> "$1/etc/initramfs-tools/modules"`,
    `--customize-hook=printf '${INITRAMFS_CONF}' > "$1/etc/initramfs-tools/conf.d/slipway"`,
    '--customize-hook=chroot "$1" update-initramfs -u -k all',
    'bookworm',
    partial,
    ...MIRRORS,
  ]);
  await rename(partial, tarball);
  return tarball;
}
