// `slipway release keygen` and `slipway release publish`: the publisher's side of a channel.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';
import type { CliIo } from './io.ts';

export interface ReleaseDeps {
  readonly io: CliIo;
  readonly now: () => Date;
}

export const RELEASE_USAGE = `usage:
  slipway release keygen --out DIR [--name NAME] [--email EMAIL] [--expires 2y]
  slipway release publish --image SLOT.img --version V --channel C --key KEY.asc --out DIR
                          [--expires 30d] [--arch x86_64] [--board generic]
keygen writes DIR/signing-key.asc (secret, mode 0600) and DIR/keyring.asc (ship it in the OS).
publish writes DIR/C/manifest.json, its detached signature and releases/V/ with the zstd payload.`;

const OPTIONS = {
  out: { type: 'string' },
  name: { type: 'string', default: 'slipway release signing' },
  email: { type: 'string', default: 'release@slipway.invalid' },
  expires: { type: 'string' },
  image: { type: 'string' },
  version: { type: 'string' },
  channel: { type: 'string' },
  key: { type: 'string' },
  arch: { type: 'string', default: 'x86_64' },
  board: { type: 'string', default: 'generic' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** "30d", "12h", "90m", "2y", "45s" as seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhdwy])$/.exec(text);
  if (!match) throw new UsageError(`"${text}" is not a duration like 30d, 12h or 2y`);
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }[match[2] as 's'];
  return Number(match[1]) * unit;
}

export async function runRelease(argv: readonly string[], deps: ReleaseDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  const [action, ...rest] = positionals;
  if (values.help || action === undefined) {
    deps.io.stdout(`${RELEASE_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  const required = (name: 'out' | 'image' | 'version' | 'channel' | 'key'): string => {
    const value = values[name];
    if (value === undefined) throw new UsageError(`release ${action}: --${name} is required\n${RELEASE_USAGE}`);
    return value;
  };
  if (action === 'keygen') {
    const expires = values.expires === undefined ? undefined : parseDuration(values.expires);
    // openpgp is loaded only by the commands that sign: every other CLI call starts without it.
    const { generateSigningKey, writeKeyPair } = await import('../../images/release-key.ts');
    const pair = await generateSigningKey({ name: values.name, email: values.email, now: deps.now(), ...(expires === undefined ? {} : { expiresInSeconds: expires }) });
    const paths = await writeKeyPair(required('out'), pair);
    deps.io.stdout(values.json ? `${JSON.stringify({ fingerprint: pair.fingerprint, ...paths })}\n` : `key ${pair.fingerprint}\n  secret: ${paths.privatePath}\n  keyring: ${paths.publicPath}\n`);
    return 0;
  }
  if (action === 'publish') {
    const { publishRelease } = await import('../../images/publish-release.ts');
    const { manifest, manifestPath } = await publishRelease({
      image: required('image'),
      version: required('version'),
      channel: required('channel'),
      arch: values.arch,
      board: values.board,
      privateKeyArmored: await readFile(required('key'), 'utf8'),
      outDir: required('out'),
      now: deps.now(),
      expiresInSeconds: parseDuration(values.expires ?? '30d'),
    });
    deps.io.stdout(values.json ? `${JSON.stringify(manifest)}\n` : `published ${manifest.version} to ${manifestPath} (${manifest.payload.size} bytes compressed, expires ${manifest.expires})\n`);
    return 0;
  }
  throw new UsageError(`unknown release action "${action}"\n${RELEASE_USAGE}`);
}
