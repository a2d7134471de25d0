// The GRUB environment chooser against the real grub-editenv and grub-script-check: files read
// and written identically both ways, every torn write boots the old or the new choice, bad files
// are refused untouched, and the generated grub.cfg parses.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { grubCfgChooser } from '../../agent/slots/grub-cfg.ts';
import { parseGrubenv } from '../../agent/slots/grubenv-block.ts';
import { blockWrites, GrubenvBootChooser, stateFromVariables } from '../../agent/slots/grubenv-boot-chooser.ts';
import { fromRuleSlots, grubenvNext, toRuleSlots } from '../../agent/slots/grubenv-state.ts';
import { markSlotGood, markSlotUnbootable, rollbackFrom, stageSlot } from '../../agent/slots/slot-rules.ts';
import { tornImage } from '../fakes/memory-block-device.ts';
import { makeSmallSlotsImage, run, tempDir } from '../builders/coreos-disk.ts';
import { GRUB_TOOLS, missingTools, SGDISK } from '../builders/require-tools.ts';
import type { GrubenvState } from '../../agent/slots/grubenv-state.ts';
import type { RuleSlot } from '../../agent/slots/slot-rules.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const skip = missingTools({ ...SGDISK, ...GRUB_TOOLS });
let dir: TempDir;
let disk: string;
let counter = 0;
beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  disk = join(dir.path, 'disk.img');
  await makeSmallSlotsImage(disk);
});
afterAll(async () => {
  if (skip !== null) return;
  await dir.remove();
});

async function editenvFile(...assignments: string[]): Promise<string> {
  const path = join(dir.path, `env-${counter++}`);
  await run('grub-editenv', [path, 'create']);
  if (assignments.length > 0) await run('grub-editenv', [path, 'set', ...assignments]);
  return path;
}

async function editenvList(path: string): Promise<Record<string, string>> {
  const { stdout } = await run('grub-editenv', [path, 'list']);
  return Object.fromEntries(stdout.trim().split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

const chooserFor = (env: string): GrubenvBootChooser => new GrubenvBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }), env);

describe.skipIf(skip !== null)(`${skip ?? ''} interoperates with grub-editenv`, () => {
  it('reads what grub-editenv wrote', async () => {
    const env = await editenvFile('ORDER=B A', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=3', 'saved_entry=slipway');
    const state = await chooserFor(env).read();
    expect(state.next).toBe('USR-B');
    expect(state.slots.map(({ name, priority, tries, successful }) => ({ name, priority, tries, successful }))).toEqual([
      { name: 'USR-A', priority: 1, tries: 0, successful: true },
      { name: 'USR-B', priority: 2, tries: 3, successful: false },
    ]);
  });

  it('writes what grub-editenv reads back identically, keeping other variables', async () => {
    const env = await editenvFile('A_OK=1', 'saved_entry=with space', 'ORDER=A B');
    await chooserFor(env).stage('USR-B', 2);
    expect(await editenvList(env)).toEqual({ ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '2', saved_entry: 'with space' });
    await chooserFor(env).markGood('USR-B');
    expect(await editenvList(env)).toEqual({ ORDER: 'B A', A_OK: '1', A_TRY: '0', B_OK: '1', B_TRY: '0', saved_entry: 'with space' });
    expect((await readFile(env)).length).toBe(1024);
    // grub-editenv changes a value (as GRUB's save_env would) and slipway reads the change.
    await run('grub-editenv', [env, 'set', 'B_TRY=1', 'B_OK=0']);
    expect((await chooserFor(env).read()).slots[1]).toMatchObject({ tries: 1, successful: false });
  });

  it('refuses bad files with the file and problem named, writing nothing', async () => {
    const short = join(dir.path, 'short.env');
    await writeFile(short, '# GRUB Environment Block\nORDER=A B\n');
    const noHeader = join(dir.path, 'noheader.env');
    await writeFile(noHeader, 'ORDER=A B\n'.padEnd(1024, '#'));
    const garbage = join(dir.path, 'garbage.env');
    await writeFile(garbage, '# GRUB Environment Block\nnot a variable\n'.padEnd(1024, '#'));
    for (const [path, message] of [
      [short, /short\.env is 35 bytes; a GRUB environment block is 1024/],
      [noHeader, /noheader\.env does not start with "# GRUB Environment Block"/],
      [garbage, /garbage\.env: line at byte 25 is not NAME=value/],
    ] as const) {
      const before = await readFile(path);
      await expect(chooserFor(path).stage('USR-B', 1)).rejects.toMatchObject({ code: 'ERR_GRUBENV_INVALID', message: expect.stringMatching(message) as unknown });
      expect(Buffer.compare(await readFile(path), before)).toBe(0);
    }
  });

  it('refuses more tries than one character holds', async () => {
    const env = await editenvFile('ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0');
    await expect(chooserFor(env).stage('USR-B', 10)).rejects.toMatchObject({ code: 'ERR_TRIES_OUT_OF_RANGE' });
  });

  it('generates a grub.cfg fragment that grub-script-check accepts', async () => {
    const script = join(dir.path, 'grub.cfg');
    await writeFile(script, `${grubCfgChooser({ envFile: '($root)/slipway/grubenv' })}menuentry "slipway" { echo $slot }\n`);
    await expect(run('grub-script-check', [script])).resolves.toBeDefined();
    const text = await readFile(script, 'utf8');
    for (let tries = 9; tries >= 1; tries--) expect(text).toContain(`set B_TRY=${tries - 1}`);
  });
});

/** Every state of our five variables with tries 0..2. */
function allStates(): GrubenvState[] {
  const states: GrubenvState[] = [];
  for (const ORDER of ['A B', 'B A'])
    for (const A_OK of ['0', '1'])
      for (const B_OK of ['0', '1'])
        for (const A_TRY of ['0', '1', '2']) for (const B_TRY of ['0', '1', '2']) states.push({ ORDER, A_OK, A_TRY, B_OK, B_TRY });
  return states;
}

const rules: [string, (s: readonly RuleSlot[]) => RuleSlot[]][] = [
  ['stage USR-A', (s) => stageSlot(s, 'USR-A', 1)],
  ['stage USR-B', (s) => stageSlot(s, 'USR-B', 2)],
  ['mark USR-A good', (s) => markSlotGood(s, 'USR-A')],
  ['mark USR-B good', (s) => markSlotGood(s, 'USR-B')],
  ['mark USR-A unbootable', (s) => markSlotUnbootable(s, 'USR-A')],
  ['mark USR-B unbootable', (s) => markSlotUnbootable(s, 'USR-B')],
  ['roll back from USR-A', (s) => rollbackFrom(s, 'USR-A')],
  ['roll back from USR-B', (s) => rollbackFrom(s, 'USR-B')],
];

function blockFor(state: GrubenvState, extra = ''): Uint8Array {
  const body = `# GRUB Environment Block\nORDER=${state.ORDER}\nA_OK=${state.A_OK}\nA_TRY=${state.A_TRY}\nB_OK=${state.B_OK}\nB_TRY=${state.B_TRY}\n${extra}`;
  return Buffer.from(body.padEnd(1024, '#'), 'latin1');
}

describe('a power cut inside any GRUB environment update', () => {
  it.each(rules)('%s: every torn file boots the old or the new choice', (_name, rule) => {
    let checked = 0;
    for (const from of allStates()) {
      let target: GrubenvState;
      try {
        target = fromRuleSlots(rule(toRuleSlots(from)));
      } catch {
        continue; // the rule refuses this state (a rollback to a slot never marked good)
      }
      for (const base of [blockFor(from), blockFor(from, 'saved_entry=x\n')]) {
        const writes = blockWrites(parseGrubenv(base, 'env'), from, target, 'env');
        const oldNext = grubenvNext(from);
        const allowed = [oldNext, grubenvNext(target)];
        for (let whole = 0; whole <= writes.length; whole++) {
          const length = writes[whole]?.data.length ?? 0;
          for (let partial = 0; partial <= Math.max(0, length - 1); partial++) {
            const torn = stateFromVariables(parseGrubenv(tornImage(base, writes, whole, partial), 'env'));
            const next = grubenvNext(torn);
            expect(allowed, `${JSON.stringify(from)} cut after ${whole} writes + ${partial} bytes`).toContain(next);
            if (oldNext !== null && grubenvNext(target) !== null) expect(next).not.toBeNull();
            checked++;
          }
        }
        const done = stateFromVariables(parseGrubenv(tornImage(base, writes, writes.length, 0), 'env'));
        expect(done).toEqual(target);
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('converts a hand-made file to the fixed layout with the old state first', () => {
    const from: GrubenvState = { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    const base = Buffer.from('# GRUB Environment Block\nA_OK=1\nsaved_entry=x\n'.padEnd(1024, '#'), 'latin1');
    const target = fromRuleSlots(stageSlot(toRuleSlots(from), 'USR-B', 1));
    const writes = blockWrites(parseGrubenv(base, 'env'), from, target, 'env');
    expect(writes[0]?.data.length).toBe(1024);
    const converted = parseGrubenv(tornImage(base, writes, 1, 0), 'env');
    expect(stateFromVariables(converted)).toEqual(from);
    expect(converted.find((v) => v.name === 'saved_entry')?.raw).toBe('x');
    expect(stateFromVariables(parseGrubenv(tornImage(base, writes, writes.length, 0), 'env'))).toEqual(target);
  });
});
