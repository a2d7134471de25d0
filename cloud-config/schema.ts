// What coreos-cloudinit accepts, as data: each key's type and the check of its value. The
// validator walks a document against it; the apply step reads the same names.

import { CloudConfigError } from './cloud-config-errors.ts';
import { gunzipSync } from 'node:zlib';
import { parseGoDuration, parseLocksmithWindow } from '../platform/locksmith-window.ts';
import { UNIT_COMMANDS } from './systemd-bus.ts';
import { normalizeHostPath, writablePathProblem } from './host-path.ts';
import { entriesProblem, prefixProblem, publicKeyProblem } from './image-trust.ts';
import type { ImageTrustEntry } from './image-trust.ts';

/** A value check: null when fine, otherwise the problem. */
export type Check = (value: string) => string | null;

export type Field =
  | { readonly kind: 'string'; readonly check?: Check; readonly secret?: boolean; /** The value as used once the check passed. */ readonly normalize?: (value: string) => string }
  | { readonly kind: 'bool' }
  | { readonly kind: 'mode' }
  /** A file's content: a string, or bytes tagged !!binary; never printed. */
  | { readonly kind: 'content' }
  | { readonly kind: 'list'; readonly of: Field }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Field>>; readonly required?: readonly string[]; readonly check?: (value: Record<string, unknown>) => string | null }
  | { readonly kind: 'deprecated'; readonly message: string };

const oneOf = (values: readonly string[]): Check => (v) => (values.includes(v) ? null : `must be one of ${values.join(', ')}, not "${v}"`);

export const REBOOT_STRATEGIES = ['etcd-lock', 'reboot', 'best-effort', 'off'] as const;
const ENCODINGS = ['b64', 'base64', 'gzip', 'gz', 'gzip+base64', 'gzip+b64', 'gz+base64', 'gz+b64'];
const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope|network|netdev|link)$/;

/** Files systemd-networkd reads rather than units of the service manager (coreos-cloudinit's "network" group). */
export function isNetworkUnit(name: string): boolean {
  return /\.(network|netdev|link)$/.test(name);
}

const hostname: Check = (v) =>
  v.length <= 253 && v.split('.').every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)) ? null : `"${v}" is not a valid hostname`;

/**
 * An authorized_keys line: optional options (sshd's AUTHORIZED_KEYS FILE FORMAT: comma-separated,
 * no blanks outside double quotes, as in `command="uptime",no-pty`), the key type, the key, a comment.
 */
const KEY_TYPE = String.raw`(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp(?:256|384|521)|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)`;
const KEY_OPTION = String.raw`[A-Za-z0-9-]+(?:="(?:[^"\\]|\\.)*")?`;
const AUTHORIZED_KEY = new RegExp(String.raw`^(?:${KEY_OPTION}(?:,${KEY_OPTION})* )?${KEY_TYPE} [A-Za-z0-9+/=]+(?: .*)?$`);
const sshKey: Check = (v) => (AUTHORIZED_KEY.test(v.trim()) ? null : 'is not an SSH public key (an authorized_keys line: [options] type key [comment])');

/** A path cloud-config writes or names: checked and then used in its normal form (see host-path.ts). */
const filePath: Field = { kind: 'string', check: writablePathProblem, normalize: (v) => normalizeHostPath(v).path ?? v };

const owner: Check = (v) => (/^[a-z_][a-z0-9_-]*[$]?(:[a-z_][a-z0-9_-]*[$]?)?$/.test(v) || /^\d+(:\d+)?$/.test(v) ? null : `owner "${v}" must be "user" or "user:group"`);

const url: Check = (v) => {
  try {
    const parsed = new URL(v);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? null : `"${v}" must be an http or https URL`;
  } catch {
    return `"${v}" is not a URL`;
  }
};

const endpoints: Check = (v) => v.split(',').map((e) => url(e.trim())).find((problem) => problem !== null) ?? null;

const windowStart: Check = (v) => {
  try {
    parseLocksmithWindow(v, '1h');
    return null;
  } catch (error) {
    return (error as Error).message;
  }
};

const duration: Check = (v) => {
  try {
    return parseGoDuration(v) > 0 ? null : `"${v}" must be longer than 0`;
  } catch (error) {
    return (error as Error).message;
  }
};

/** A unit file is [Section] headers and Key=Value lines (continued by a trailing backslash). */
export const unitFile: Check = (content) => {
  let section = false;
  let continued = false;
  const lines = content.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (continued) {
      continued = line.endsWith('\\');
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (/^\[[^\]]+\]$/.test(line)) {
      section = true;
      continue;
    }
    if (!/^[A-Za-z0-9_-]+\s*=/.test(line)) return `unit content line ${index + 1} ("${line.slice(0, 40)}") is neither [Section] nor Key=Value`;
    if (!section) return `unit content line ${index + 1} has Key=Value before any [Section]`;
    continued = line.endsWith('\\');
  }
  return null;
};

/**
 * write_files content must decode with its encoding. Content tagged !!binary arrives as bytes and the
 * encoding still applies to them, as in coreos-cloudinit (where `!!binary` plus `encoding: gzip` is the
 * documented way to ship a compressed file).
 */
export function decodeContent(content: string | Uint8Array, encoding: string | undefined): Buffer {
  const e = encoding ?? '';
  const base64 = e.includes('b64') || e.includes('base64');
  const gzip = e.startsWith('gz');
  let bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  if (base64) {
    const text = bytes.toString('utf8');
    bytes = Buffer.from(text, 'base64');
    if (bytes.toString('base64').replace(/=+$/, '') !== text.replace(/\s+/g, '').replace(/=+$/, '')) throw new CloudConfigError('ERR_CLOUD_CONFIG_INVALID', 'is not valid base64');
  }
  if (gzip) bytes = gunzipSync(bytes);
  return bytes;
}

const writeFile: Field = {
  kind: 'object',
  required: ['path'],
  fields: { path: filePath, content: { kind: 'content' }, owner: { kind: 'string', check: owner }, permissions: { kind: 'mode' }, encoding: { kind: 'string', check: oneOf(ENCODINGS) } },
  check: (file) => {
    if (typeof file.content !== 'string' && !(file.content instanceof Uint8Array)) return null;
    try {
      decodeContent(file.content, typeof file.encoding === 'string' ? file.encoding : undefined);
      return null;
    } catch (error) {
      return `content of ${String(file.path)} ${(error as Error).message.startsWith('is') ? (error as Error).message : `cannot be decoded as ${String(file.encoding)}: ${(error as Error).message}`}`;
    }
  },
};

const unit: Field = {
  kind: 'object',
  required: ['name'],
  // coreos-cloudinit writes .network/.netdev/.link files for systemd-networkd and restarts it; the
  // service manager cannot enable or start them, so a command or enable there would only fail later.
  check: (u) => (typeof u.name === 'string' && isNetworkUnit(u.name) && (u.command !== undefined || u.enable === true) ? `${u.name} is read by systemd-networkd, which slipway reloads after writing it; it takes no command and no enable` : null),
  fields: {
    name: { kind: 'string', check: (v) => (UNIT_NAME.test(v) ? null : `"${v}" is not a systemd unit name (like app.service)`) },
    content: { kind: 'string', check: unitFile },
    command: { kind: 'string', check: oneOf(UNIT_COMMANDS) },
    enable: { kind: 'bool' },
    runtime: { kind: 'bool' },
    mask: { kind: 'bool' },
    drop_ins: {
      kind: 'list',
      of: { kind: 'object', required: ['name'], fields: { name: { kind: 'string', check: (v) => (/^[^/]+\.conf$/.test(v) ? null : `drop-in name "${v}" must end in .conf`) }, content: { kind: 'string', check: unitFile } } },
    },
  },
};

const DEPRECATED = (what: string): Field => ({ kind: 'deprecated', message: `coreos.${what} is not supported by slipway hosts and is ignored` });

export const CLOUD_CONFIG: Field = {
  kind: 'object',
  fields: {
    hostname: { kind: 'string', check: hostname },
    ssh_authorized_keys: { kind: 'list', of: { kind: 'string', check: sshKey } },
    manage_etc_hosts: { kind: 'string', check: oneOf(['localhost']) },
    write_files: { kind: 'list', of: writeFile },
    users: {
      kind: 'list',
      of: {
        kind: 'object',
        required: ['name'],
        fields: {
          name: { kind: 'string', check: (v) => (/^[a-z_][a-z0-9_-]*[$]?$/.test(v) ? null : `"${v}" is not a valid user name`) },
          passwd: { kind: 'string', secret: true },
          ssh_authorized_keys: { kind: 'list', of: { kind: 'string', check: sshKey } },
          gecos: { kind: 'string' },
          homedir: filePath,
          no_create_home: { kind: 'bool' },
          primary_group: { kind: 'string' },
          groups: { kind: 'list', of: { kind: 'string' } },
          no_user_group: { kind: 'bool' },
          system: { kind: 'bool' },
          shell: { kind: 'string' },
        },
      },
    },
    coreos: {
      kind: 'object',
      fields: {
        units: { kind: 'list', of: unit },
        update: { kind: 'object', fields: { reboot_strategy: { kind: 'string', check: oneOf(REBOOT_STRATEGIES) }, group: { kind: 'string' }, server: { kind: 'string', check: url } } },
        locksmith: {
          kind: 'object',
          fields: {
            endpoint: { kind: 'string', check: endpoints },
            group: { kind: 'string' },
            window_start: { kind: 'string', check: windowStart },
            window_length: { kind: 'string', check: duration },
            etcd_cafile: filePath,
            etcd_certfile: filePath,
            etcd_keyfile: filePath,
            etcd_username: { kind: 'string' },
            etcd_password: { kind: 'string', secret: true },
          },
        },
        etcd: DEPRECATED('etcd'),
        etcd2: DEPRECATED('etcd2'),
        fleet: DEPRECATED('fleet'),
        flannel: DEPRECATED('flannel'),
      },
    },
    slipway: {
      kind: 'object',
      check: (v) => (Array.isArray(v.image_trust) ? entriesProblem(v.image_trust as { prefix?: unknown }[]) : null),
      fields: {
        image_trust: {
          kind: 'list',
          of: {
            kind: 'object',
            required: ['prefix', 'keys', 'lookaside'],
            fields: {
              prefix: { kind: 'string', check: prefixProblem },
              keys: { kind: 'list', of: { kind: 'string', check: publicKeyProblem, secret: true } },
              lookaside: { kind: 'string', check: url },
            },
          },
        },
      },
    },
  },
};

/** The shape a document has once validated: the apply step reads these names. */
export interface CloudConfig {
  readonly hostname?: string;
  readonly ssh_authorized_keys?: readonly string[];
  readonly manage_etc_hosts?: 'localhost';
  readonly write_files?: readonly WriteFileEntry[];
  readonly users?: readonly UserEntry[];
  readonly coreos?: {
    readonly units?: readonly UnitEntry[];
    readonly update?: { readonly reboot_strategy?: string; readonly group?: string; readonly server?: string };
    readonly locksmith?: Readonly<Partial<Record<'endpoint' | 'group' | 'window_start' | 'window_length' | 'etcd_cafile' | 'etcd_certfile' | 'etcd_keyfile' | 'etcd_username' | 'etcd_password', string>>>;
  };
  /** slipway's own keys (not coreos-cloudinit's). */
  readonly slipway?: {
    readonly image_trust?: readonly ImageTrustEntry[];
  };
}

export interface WriteFileEntry {
  readonly path: string;
  /** Bytes when the document tagged it !!binary. */
  readonly content?: string | Uint8Array;
  readonly owner?: string;
  readonly permissions?: number;
  readonly encoding?: string;
}

export interface UserEntry {
  readonly name: string;
  readonly passwd?: string;
  readonly ssh_authorized_keys?: readonly string[];
  readonly gecos?: string;
  readonly homedir?: string;
  readonly no_create_home?: boolean;
  readonly primary_group?: string;
  readonly groups?: readonly string[];
  readonly no_user_group?: boolean;
  readonly system?: boolean;
  readonly shell?: string;
}

export interface UnitEntry {
  readonly name: string;
  readonly content?: string;
  readonly command?: (typeof UNIT_COMMANDS)[number];
  readonly enable?: boolean;
  readonly runtime?: boolean;
  readonly mask?: boolean;
  readonly drop_ins?: readonly { readonly name: string; readonly content?: string }[];
}
