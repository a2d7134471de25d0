// Benchmark of dm-verity's costs (npm run bench:verity [-- --image SLOT.img] [--size MiB]): publish
// time without and with the tree (appended to a copy, and checked when the image carries it), the
// tree alone against veritysetup format, the agent's streaming check of a slot, and the size overhead
// on the image and on the compressed payload. Without --image, an OS-like image of --size MiB (a
// third random, a third repeated, a third zeros). The last line is one JSON object.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { publishRelease } from '../../images/publish-release.ts';
import { generateSigningKey } from '../../images/release-key.ts';
import { appendVerityTree } from '../../images/verity-image.ts';
import { checkVerity } from '../../platform/verity/verity-check.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { image: { type: 'string' }, size: { type: 'string', default: '200' } } });
const dir = await mkdtemp(join(tmpdir(), 'slipway-verity-bench-'));

async function makeImage(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'w');
  const block = randomBytes(1024 * 1024);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let at = 0, i = 0; at < bytes; at += block.length, i++) {
    const piece = i % 3 === 0 ? randomBytes(1024 * 1024) : i % 3 === 1 ? block : zeros;
    await file.write(piece.subarray(0, Math.min(piece.length, bytes - at)));
  }
  await file.close();
}

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

try {
  const image = join(dir, 'slot.img');
  if (values.image) await copyFile(values.image, image);
  else await makeImage(image, Number(values.size) * 1024 * 1024);
  const imageBytes = (await stat(image)).size;
  const key = await generateSigningKey({ name: 'bench', email: 'bench@slipway.invalid', now: new Date() });
  const publish = (version: string, path: string, verity: boolean) =>
    publishRelease({ image: path, version, channel: 'bench', arch: 'x86_64', board: 'qemu', privateKeyArmored: key.privateArmored, outDir: join(dir, 'www'), now: new Date(), expiresInSeconds: 86_400, verity });

  const plain = await timed(() => publish('1.0.0', image, false));
  const appended = await timed(() => publish('1.0.1', image, true));
  const withTree = join(dir, 'with-tree.img');
  await copyFile(image, withTree);
  const tree = await timed(() => appendVerityTree(withTree));
  const checked = await timed(() => publish('1.0.2', withTree, true));
  const treeBytes = (await stat(withTree)).size - tree.result.dataSize;

  const veritysetup = await timed(async () => {
    const data = join(dir, 'vs-data.img');
    await copyFile(image, data);
    const { size } = await stat(data);
    const file = await open(data, 'r+');
    await file.truncate(Math.ceil(size / 4096) * 4096);
    await file.close();
    const start = process.hrtime.bigint();
    await run('veritysetup', ['format', data, join(dir, 'vs-hash.img')]);
    return Number(process.hrtime.bigint() - start) / 1e9;
  });

  const handle = await open(withTree, 'r');
  const agent = await timed(() =>
    checkVerity(async (offset, into) => {
      await handle.read(into, 0, into.length, offset);
    }, { rootHash: tree.result.rootHash, hashOffset: tree.result.hashOffset }),
  );
  await handle.close();
  if (!agent.result.ok) throw new Error(`the bench image does not verify: ${agent.result.message}`);

  const figures = {
    imageMiB: +(imageBytes / 1048576).toFixed(1),
    publishPlainSeconds: +plain.seconds.toFixed(2),
    publishAppendingTreeSeconds: +appended.seconds.toFixed(2),
    publishCheckingTreeSeconds: +checked.seconds.toFixed(2),
    treeOnlySeconds: +tree.seconds.toFixed(2),
    veritysetupFormatSeconds: +veritysetup.result.toFixed(2),
    agentCheckSeconds: +agent.seconds.toFixed(2),
    treeBytes,
    treeOverheadPercent: +((100 * treeBytes) / tree.result.dataSize).toFixed(3),
    payloadPlainBytes: plain.result.manifest.payload.size,
    payloadWithTreeBytes: appended.result.manifest.payload.size,
    payloadOverheadPercent: +((100 * (appended.result.manifest.payload.size - plain.result.manifest.payload.size)) / plain.result.manifest.payload.size).toFixed(3),
  };
  console.log(`image ${figures.imageMiB} MiB: publish ${figures.publishPlainSeconds} s without a tree, ${figures.publishAppendingTreeSeconds} s appending one, ${figures.publishCheckingTreeSeconds} s checking the one it carries`);
  console.log(`tree alone ${figures.treeOnlySeconds} s (veritysetup format ${figures.veritysetupFormatSeconds} s); agent's check of the slot ${figures.agentCheckSeconds} s`);
  console.log(`tree ${figures.treeBytes} bytes (${figures.treeOverheadPercent}% of the data); payload ${figures.payloadPlainBytes} -> ${figures.payloadWithTreeBytes} bytes (+${figures.payloadOverheadPercent}%)`);
  console.log(JSON.stringify(figures));
} finally {
  await rm(dir, { recursive: true, force: true });
}
