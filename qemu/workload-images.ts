// Container images for the lab, built without a Docker engine: a busybox-static root filesystem put
// into an OCI layout with umoci, and pushed with skopeo to a registry, signed with a GnuPG key
// (containers/image "simple signing") whose signatures go to a lookaside directory.

import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface SigningKey {
  /** GNUPGHOME holding the secret key. */
  readonly home: string;
  readonly fingerprint: string;
  /** The ASCII-armored public key, as cloud-config's slipway.image_trust takes it. */
  readonly publicKey: string;
}

/** A fresh ed25519 signing key in its own GnuPG home under `dir`. */
export async function createSigningKey(dir: string, uid: string): Promise<SigningKey> {
  const home = join(dir, `gnupg-${uid.replace(/\W/g, '_')}`);
  await mkdir(home, { recursive: true });
  await chmod(home, 0o700);
  const gpg = (...args: string[]): Promise<{ stdout: string }> => exec('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  await gpg('--quick-gen-key', `${uid} <${uid}@workloads.test>`, 'ed25519', 'sign', 'never');
  const listing = (await gpg('--with-colons', '--list-keys')).stdout;
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1];
  if (fingerprint === undefined) throw new Error(`gpg made no key in ${home}`);
  return { home, fingerprint, publicKey: (await gpg('--armor', '--export', fingerprint)).stdout };
}

export interface BusyboxImage {
  /** Shell words run by the container (its Cmd). */
  readonly cmd: readonly string[];
  /** Files to put in the image, by absolute path. */
  readonly files?: Readonly<Record<string, string>>;
}

const APPLETS = ['sh', 'httpd', 'sleep', 'cat', 'echo', 'ls'];

/** Builds an OCI image from the host's busybox-static; returns its `oci:LAYOUT:TAG` reference. */
export async function buildBusyboxImage(layout: string, tag: string, image: BusyboxImage): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'slipway-umoci-'));
  try {
    await exec('umoci', ['init', '--layout', layout]).catch(async (error: unknown) => {
      // A layout made for an earlier tag is reused.
      if (!(await readFile(join(layout, 'oci-layout')).then(() => true, () => false))) throw error;
    });
    await exec('umoci', ['new', '--image', `${layout}:${tag}`]);
    const bundle = join(work, 'bundle');
    await exec('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await copyFile('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
    await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of APPLETS) await symlink('busybox', join(rootfs, 'bin', applet));
    for (const [path, content] of Object.entries(image.files ?? {})) {
      await mkdir(dirname(join(rootfs, path)), { recursive: true });
      await writeFile(join(rootfs, path), content);
    }
    await exec('umoci', ['repack', '--image', `${layout}:${tag}`, bundle]);
    await exec('umoci', ['config', '--image', `${layout}:${tag}`, ...image.cmd.flatMap((word) => ['--config.cmd', word])]);
    return `oci:${layout}:${tag}`;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface PushOptions {
  /** Sign with this key; without it the image is pushed unsigned. */
  readonly key?: SigningKey;
  /** The reference the signature names (the one the pulling host uses, e.g. 10.0.2.2:PORT/app:1); default the destination. */
  readonly signIdentity?: string;
  /** Where signatures are written (served to hosts as the lookaside). */
  readonly signatures: string;
}

/** Pushes `source` to `registry/repo:tag` over plain http (a loopback lab registry). */
export async function pushImage(source: string, destination: string, options: PushOptions): Promise<void> {
  const host = destination.split('/')[0] ?? destination;
  const registriesD = await mkdtemp(join(tmpdir(), 'slipway-registries.d-'));
  try {
    await writeFile(join(registriesD, 'lab.yaml'), `docker:\n  ${JSON.stringify(host)}:\n    lookaside-staging: ${JSON.stringify(`file://${options.signatures}`)}\n`);
    const sign = options.key ? ['--sign-by', options.key.fingerprint, ...(options.signIdentity ? ['--sign-identity', options.signIdentity] : [])] : [];
    await exec('skopeo', ['copy', '--quiet', '--registries.d', registriesD, '--dest-tls-verify=false', ...sign, source, `docker://${destination}`], {
      env: { ...process.env, ...(options.key ? { GNUPGHOME: options.key.home } : {}) },
    });
  } finally {
    await rm(registriesD, { recursive: true, force: true });
  }
}
