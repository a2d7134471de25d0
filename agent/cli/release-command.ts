// `slipway release keygen` and `slipway release publish`: the publisher's side of a channel.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from './cli-error.ts';
import { parseDuration, ROLLOUT_USAGE, rolloutFromFlags } from './publish-rollout.ts';
import type { CliIo } from './io.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';

export interface ReleaseDeps {
  readonly io: CliIo;
  readonly now: () => Date;
}

export const RELEASE_USAGE = `usage:
  slipway release keygen --out DIR [--name NAME] [--email EMAIL] [--expires 2y]
  slipway release publish --image SLOT.img --version V --channel C --key KEY.asc --out DIR
                          [--expires 30d] [--arch x86_64] [--board generic]
                          [--rollout DURATION [--rollout-start TIME] | --waves SPEC] [--no-verity]
                          [--format N]
keygen writes DIR/signing-key.asc (secret, mode 0600) and DIR/keyring.asc (ship it in the OS).
publish writes DIR/C/manifest.json, its detached signature and releases/V/ with the zstd payload.
The payload carries the image's dm-verity hash tree: checked when the image ends with one (as
npm run image builds it), appended to a copy otherwise; its root hash is signed in the manifest
(format 3). --no-verity publishes the image as it is, without a tree, for agents before format 3.
--format N names the newest manifest format the fleet's agents read (default 4): at 4 the payload is
cut into content-defined chunks with releases/V/payload.img.zst.chunks.idx beside it, so agents
fetch only the chunks they lack (docs/delta.md); below 4 there is no index and agents download it all.
Without a rollout every host may take the release at once; with one, each host's turn comes from its
machine id and the version (a manifest with a rollout is format 2, which agents from before waves refuse):
${ROLLOUT_USAGE}`;

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
  rollout: { type: 'string' },
  'rollout-start': { type: 'string' },
  waves: { type: 'string' },
  verity: { type: 'boolean', default: true },
  format: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runRelease(argv: readonly string[], deps: ReleaseDeps): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, allowNegative: true, strict: true });
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
    const now = deps.now();
    const rollout = rolloutFromFlags({ rollout: values.rollout, rolloutStart: values['rollout-start'], waves: values.waves }, now);
    const { publishRelease } = await import('../../images/publish-release.ts');
    const { manifest, manifestPath } = await publishRelease({
      image: required('image'),
      version: required('version'),
      channel: required('channel'),
      arch: values.arch,
      board: values.board,
      privateKeyArmored: await readFile(required('key'), 'utf8'),
      outDir: required('out'),
      now,
      expiresInSeconds: parseDuration(values.expires ?? '30d'),
      ...(rollout === null ? {} : { rollout }),
      verity: values.verity,
      ...(values.format === undefined ? {} : { maxFormat: parseFormat(values.format) }),
    });
    deps.io.stdout(values.json ? `${JSON.stringify(manifest)}\n` : `published ${manifest.version} to ${manifestPath} (${manifest.payload.size} bytes compressed, expires ${manifest.expires}${describeRollout(manifest.rollout)}${manifest.verity ? `; verity root ${manifest.verity.rootHash}` : ''})\n`);
    return 0;
  }
  throw new UsageError(`unknown release action "${action}"\n${RELEASE_USAGE}`);
}

function parseFormat(text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`release publish: --format must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function describeRollout(rollout: RolloutSchedule | undefined): string {
  if (rollout === undefined) return '';
  if ('start' in rollout) return `; rolling out from ${rollout.start} over ${rollout.durationSeconds} s`;
  return `; rolling out in waves: ${rollout.waves.map((w) => `${Math.round(w.fraction * 1e5) / 1e3}% at ${w.at}`).join(', ')}`;
}
