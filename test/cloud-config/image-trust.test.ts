// slipway.image_trust against the real containers/image policy engine: a cloud-config is applied to a
// temporary root, and skopeo (which pulls through the same code as podman) reads the written
// /etc/containers, bind-mounted in a private mount namespace, while it pulls from a real
// docker-registry on loopback, with signatures from a lookaside served over HTTP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyCloudConfig } from '../../cloud-config/apply.ts';
import { HostRoot } from '../../cloud-config/host-root.ts';
import { validateCloudConfig } from '../../cloud-config/validate.ts';
import { POLICY_PATH } from '../../cloud-config/image-trust.ts';
import { startOciRegistry } from '../../qemu/oci-registry.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { buildBusyboxImage, createSigningKey, pushImage } from '../../qemu/workload-images.ts';
import { tempDir } from '../builders/coreos-disk.ts';
import { missingTools } from '../builders/require-tools.ts';
import { makeTestRoot } from '../builders/test-root.ts';
import type { ApplyDeps } from '../../cloud-config/apply.ts';
import type { OciRegistry } from '../../qemu/oci-registry.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SigningKey } from '../../qemu/workload-images.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const exec = promisify(execFile);
const skip = missingTools({ 'docker-registry': 'docker-registry', skopeo: 'skopeo', umoci: 'umoci', busybox: 'busybox-static', gpg: 'gnupg', unshare: 'util-linux' });

/** Ports the trust step never touches: a call would mean apply did more than it was asked. */
const untouched = (): Omit<ApplyDeps, 'root' | 'log'> => {
  const never = (): never => {
    throw new Error('not expected in this apply');
  };
  return {
    accounts: { create: never, passwordHash: never, setPasswordHash: never },
    systemd: { reload: never, unitFileState: never, enable: never, activeState: never, run: never },
    hostname: { staticHostname: never, setStaticHostname: never },
  };
};

describe.skipIf(skip !== null)(`${skip ?? ''} slipway.image_trust with skopeo, a registry and a lookaside`, () => {
  let dir: TempDir;
  let registry: OciRegistry;
  let lookaside: ReleaseServer;
  let trusted: SigningKey;
  let stranger: SigningKey;
  let root: string;

  beforeAll(async () => {
    dir = await tempDir();
    registry = await startOciRegistry();
    const signatures = join(dir.path, 'signatures');
    await mkdir(signatures, { recursive: true });
    lookaside = await startReleaseServer(signatures);
    [trusted, stranger] = [await createSigningKey(dir.path, 'trusted'), await createSigningKey(dir.path, 'stranger')];
    const layout = join(dir.path, 'layout');
    // Each image has its own content, hence its own digest: a lookaside is keyed by digest.
    const image = (tag: string): Promise<string> => buildBusyboxImage(layout, tag, { cmd: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'], files: { '/www/index.html': `${tag}\n` } });
    await pushImage(await image('signed'), `${registry.host}/app:1`, { key: trusted, signatures });
    await pushImage(await image('unsigned'), `${registry.host}/app:unsigned`, { signatures });
    await pushImage(await image('stranger'), `${registry.host}/app:stranger`, { key: stranger, signatures });
    // Signed by the trusted key, but for another name: a signature is for one reference only.
    await pushImage(await image('renamed'), `${registry.host}/app:renamed`, { key: trusted, signIdentity: `${registry.host}/other:1`, signatures });

    root = join(dir.path, 'root');
    await makeTestRoot(root);
    const { config, report } = validateCloudConfig(
      `#cloud-config\nslipway:\n  image_trust:\n    - prefix: ${registry.host}\n      lookaside: ${lookaside.url}\n      keys:\n        - |\n${trusted.publicKey
        .trim()
        .split('\n')
        .map((line) => `          ${line}`)
        .join('\n')}\n`,
    );
    expect(report.format()).toBe('');
    if (config === null) throw new Error('invalid');
    const result = await applyCloudConfig(config, { root: new HostRoot(root), ...untouched(), log: () => undefined });
    expect(result.steps.map((s) => `${s.step} ${s.target} ${s.result}`)).toEqual([
      `image-trust /etc/containers/slipway-keys/${registry.host.replace(':', '_')}.asc changed`,
      'image-trust /etc/containers/registries.d/50-slipway.yaml changed',
      'image-trust /etc/containers/policy.json changed',
    ]);
  }, 120_000);

  afterAll(async () => {
    await lookaside?.close();
    await registry?.stop();
    await dir?.remove();
  });

  /** skopeo pulls `reference` with the root's /etc/containers in place of the host's. */
  const pull = async (reference: string): Promise<{ ok: boolean; message: string }> => {
    const target = join(dir.path, `pulled-${reference.replace(/\W/g, '_')}`);
    const script = `mount --bind "$1" /etc/containers && exec skopeo copy --quiet --src-tls-verify=false --remove-signatures "docker://$2" "dir:$3"`;
    try {
      await exec('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'pull', join(root, 'etc', 'containers'), reference, target]);
      return { ok: true, message: await readFile(join(target, 'manifest.json'), 'utf8') };
    } catch (error) {
      return { ok: false, message: String((error as { stderr?: string }).stderr ?? error) };
    }
  };

  it('pulls an image signed by a trusted key for its own name', async () => {
    const result = await pull(`${registry.host}/app:1`);
    expect(result.message).not.toContain('rejected');
    expect(result.ok).toBe(true);
  });

  it.each([
    ['an unsigned image', 'app:unsigned', /A signature was required, but no signature exists/],
    ['an image signed by a key not trusted', 'app:stranger', /Invalid GPG signature|signature.*not accepted|No public key/i],
    ['a trusted signature for another name', 'app:renamed', /Signature for identity .*other:1 is not accepted/],
  ])('refuses %s at pull', async (_what, tag, reason) => {
    const result = await pull(`${registry.host}/${tag}`);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(reason);
  });

  it('rejects an image from any registry not listed, even one a trusted key signed', async () => {
    // The same registry by another name is another registry to the policy.
    const result = await pull(`localhost:${registry.port}/app:1`);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/Running image docker:\/\/localhost:\d+\/app:1 is rejected by policy/);
    expect(JSON.parse(await readFile(join(root, POLICY_PATH), 'utf8'))).toMatchObject({ default: [{ type: 'reject' }] });
  });
});
