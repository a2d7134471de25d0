// The lab's container registry: docker-registry on loopback with its lookaside signature store served
// beside it, and the workload images the VMs pull, pushed signed (or not) under the names the guests
// use (10.0.2.2:PORT/...), so the signatures' identities match what podman in the guest pulls.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startOciRegistry } from './oci-registry.ts';
import { startReleaseServer } from './release-server.ts';
import { buildBusyboxImage, createSigningKey, pushImage } from './workload-images.ts';
import type { ImageTrustEntry } from '../cloud-config/image-trust.ts';
import type { OciRegistry } from './oci-registry.ts';
import type { ReleaseServer } from './release-server.ts';

/** Written in unit contents where the guest's name of the registry goes (10.0.2.2:PORT). */
export const REGISTRY = '@REGISTRY@';

export interface LabWorkloadImage {
  /** repo:tag */
  readonly name: string;
  readonly cmd: readonly string[];
  readonly files?: Readonly<Record<string, string>>;
  /** false: pushed without a signature, to be refused at pull. */
  readonly signed: boolean;
}

export interface LabRegistry {
  /** The registry as guests reach it: 10.0.2.2:PORT. */
  readonly guestHost: string;
  /** cloud-config's slipway.image_trust entry that trusts the lab's signing key for this registry. */
  readonly trust: ImageTrustEntry;
  /** podman may pull from it over plain http (registries.conf.d drop-in content). */
  readonly insecureConf: string;
  close(): Promise<void>;
}

export async function startLabRegistry(dir: string, images: readonly LabWorkloadImage[]): Promise<LabRegistry> {
  const signatures = join(dir, 'signatures');
  await mkdir(signatures, { recursive: true });
  let registry: OciRegistry | null = null;
  let lookaside: ReleaseServer | null = null;
  const close = async (): Promise<void> => {
    await lookaside?.close();
    await registry?.stop();
  };
  try {
    registry = await startOciRegistry();
    lookaside = await startReleaseServer(signatures);
    const key = await createSigningKey(dir, 'lab-workloads');
    const guestHost = `10.0.2.2:${registry.port}`;
    for (const image of images) {
      const [repo, tag] = image.name.split(':');
      const source = await buildBusyboxImage(join(dir, 'oci-layout'), `${repo ?? 'image'}-${tag ?? 'latest'}`, { cmd: image.cmd, files: { '/image-name': `${image.name}\n`, ...image.files } });
      await pushImage(source, `${registry.host}/${image.name}`, image.signed ? { key, signIdentity: `${guestHost}/${image.name}`, signatures } : { signatures });
    }
    return {
      guestHost,
      trust: { prefix: guestHost, keys: [key.publicKey], lookaside: lookaside.url.replace('127.0.0.1', '10.0.2.2') },
      insecureConf: `[[registry]]\nlocation = "${guestHost}"\ninsecure = true\n`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
