// The systemd units the OS image ships, checked by systemd-analyze verify against the host's own
// unit set, and their ExecStart lines run against the real CLI so a renamed flag cannot slip by.

import { describe, expect, it } from 'vitest';
import { chmod, cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AGENT_NODE_FLAGS } from '../../images/agent-runtime.ts';
import { run, useTempDir } from '../builders/coreos-disk.ts';
import { missingTools } from '../builders/require-tools.ts';
import { runSlipway } from '../builders/run-slipway.ts';

const UNITS = join(import.meta.dirname, '..', '..', 'images', 'units');
const skip = missingTools({ 'systemd-analyze': 'systemd' });
const tmp = useTempDir(skip);

async function execStart(unit: string): Promise<string[]> {
  const line = (await readFile(join(UNITS, unit), 'utf8')).split('\n').find((l) => l.startsWith('ExecStart='));
  return line?.slice('ExecStart='.length).split(' ') ?? [];
}

describe.skipIf(skip !== null)(`${skip ?? ''} units shipped in the image`, () => {
  it('pass systemd-analyze verify without a single complaint', async () => {
    const root = tmp();
    await mkdir(join(root, 'usr', 'lib', 'systemd'), { recursive: true });
    await cp('/usr/lib/systemd/system', join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true });
    await mkdir(join(root, 'etc', 'systemd', 'system'), { recursive: true });
    const units = (await readdir(UNITS)).filter((name) => name.endsWith('.service'));
    expect(units).toContain('slipway-cloudinit.service');
    for (const unit of units) {
      await cp(join(UNITS, unit), join(root, 'etc', 'systemd', 'system', unit));
      const [binary] = await execStart(unit);
      if (binary === undefined) throw new Error(`${unit} has no ExecStart`);
      await mkdir(join(root, binary, '..'), { recursive: true });
      await writeFile(join(root, binary), '#!/bin/sh\n');
      await chmod(join(root, binary), 0o755);
      const { stderr } = await run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, `/etc/systemd/system/${unit}`]);
      expect(stderr).toBe('');
    }
  });

  it('run the agent with its Node flags and arguments the CLI accepts', async () => {
    const [node, ...args] = await execStart('slipway-cloudinit.service');
    expect(node).toBe('/usr/lib/slipway/node');
    expect(args.slice(0, AGENT_NODE_FLAGS.length)).toEqual([...AGENT_NODE_FLAGS]);
    expect(args[AGENT_NODE_FLAGS.length]).toBe('/usr/lib/slipway/slipway.mjs');
    const root = tmp();
    await mkdir(join(root, 'var', 'lib', 'slipway'), { recursive: true });
    await writeFile(join(root, 'var', 'lib', 'slipway', 'cloud-config.applied'), 'earlier\n');
    const result = await runSlipway([...args.slice(AGENT_NODE_FLAGS.length + 1), '--root', root]);
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(result.stderr).toContain('cloud-config was applied at an earlier boot; nothing to do');
  });
});
