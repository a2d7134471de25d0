// slipway.image_trust: which OpenPGP keys may sign the container images a host pulls, in the spirit of
// rkt's `trust --prefix`. Written as the containers/image configuration podman and skopeo obey: a
// policy.json that rejects every registry not listed, a signedBy rule per prefix, and the lookaside
// server where each prefix's signatures are published (registries.d).

/** One trusted prefix: images under it must carry a signature by one of `keys`, found at `lookaside`. */
export interface ImageTrustEntry {
  /** A registry, optionally with a port and a repository path: `registry.example.com:5000/team`. */
  readonly prefix: string;
  /** ASCII-armored OpenPGP public keys. */
  readonly keys: readonly string[];
  /** The http(s) base URL of the signature store (containers/image "lookaside"). */
  readonly lookaside: string;
}

export const POLICY_PATH = '/etc/containers/policy.json';
export const REGISTRIES_D_PATH = '/etc/containers/registries.d/50-slipway.yaml';
/** Beside the policy, so the whole of the trust configuration lives in /etc/containers. */
export const IMAGE_KEY_DIR = '/etc/containers/slipway-keys';

/** A containers-policy.json docker scope without tag or digest: host[:port][/path]. */
const PREFIX = /^(?=.{1,255}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

export function prefixProblem(prefix: string): string | null {
  return PREFIX.test(prefix) ? null : `"${prefix}" is not a registry prefix like registry.example.com:5000/team (no tag, no digest, lower case)`;
}

/** An armored public key block and nothing secret: a private key in user-data would be a leak. */
export function publicKeyProblem(armored: string): string | null {
  if (/-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(armored)) return 'holds a private key; give only the public key';
  if (!/-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]+-----END PGP PUBLIC KEY BLOCK-----/.test(armored)) return 'is not an ASCII-armored OpenPGP public key block';
  return null;
}

/** Duplicate prefixes would make one rule silently replace another. */
export function entriesProblem(entries: readonly { readonly prefix?: unknown }[]): string | null {
  const seen = new Set<unknown>();
  for (const entry of entries) {
    if (seen.has(entry.prefix)) return `prefix ${String(entry.prefix)} is given twice`;
    seen.add(entry.prefix);
  }
  return null;
}

export interface TrustFile {
  readonly path: string;
  readonly content: string;
}

/** The key file of one prefix: its keys concatenated (containers/image imports every key in the file). */
export function keyPath(prefix: string): string {
  return `${IMAGE_KEY_DIR}/${prefix.replace(/[/:]/g, '_')}.asc`;
}

/**
 * Every file the trust configuration consists of (none without entries). Anything not under a listed prefix is rejected,
 * so a unit that pulls from elsewhere fails at pull rather than running unsigned code; images
 * already in local storage stay usable (containers-storage is accepted).
 */
export function imageTrustFiles(entries: readonly ImageTrustEntry[]): TrustFile[] {
  // No slipway.image_trust: the OS image's own policy stays as it is.
  if (entries.length === 0) return [];
  const docker: Record<string, unknown[]> = {};
  const lookasides: Record<string, { lookaside: string }> = {};
  const keys: TrustFile[] = [];
  for (const entry of entries) {
    docker[entry.prefix] = [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: keyPath(entry.prefix) }];
    lookasides[entry.prefix] = { lookaside: entry.lookaside };
    keys.push({ path: keyPath(entry.prefix), content: `${entry.keys.map((k) => k.trim()).join('\n')}\n` });
  }
  const policy = {
    default: [{ type: 'reject' }],
    transports: {
      docker,
      'containers-storage': { '': [{ type: 'insecureAcceptAnything' }] },
    },
  };
  const registries = `# Written by slipway cloud-config from slipway.image_trust; edits are overwritten.\ndocker:\n${Object.entries(lookasides)
    .map(([prefix, { lookaside }]) => `  ${JSON.stringify(prefix)}:\n    lookaside: ${JSON.stringify(lookaside)}\n`)
    .join('')}`;
  return [...keys, { path: REGISTRIES_D_PATH, content: registries }, { path: POLICY_PATH, content: `${JSON.stringify(policy, null, 2)}\n` }];
}
