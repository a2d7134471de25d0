// The GRUB environment chooser against the real grub-editenv and grub-script-check: files read
// and written identically both ways, every torn write the adapter makes boots the old or the new
// choice, bad files are refused untouched, and the generated grub.cfg parses and boots as modelled.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileBlockDevice } from '../../agent/slots/file-block-device.ts';
import { DEFAULT_MENU_ENTRY_IDS, grubCfgChooser } from '../../platform/grub/grub-cfg.ts';
import { parseGrubenv } from '../../platform/grub/grubenv-block.ts';
import { GrubenvBootChooser, layoutProblems, stateFromVariables } from '../../agent/slots/grubenv-boot-chooser.ts';
import { canonicalState, fixedLayoutBlock } from '../../platform/grub/grubenv-flags.ts';
import { fromRuleSlots, grubenvNext, toRuleSlots } from '../../agent/slots/grubenv-state.ts';
import { markSlotGood, markSlotUnbootable, rollbackFrom, simulateBoot, stageSlot } from '../../agent/slots/slot-rules.ts';
import { MemoryBlockDevice } from '../fakes/memory-block-device.ts';
import { makeSmallSlotsImage, run, tempDir } from '../builders/coreos-disk.ts';
import { GRUB_TOOLS, missingTools, SGDISK } from '../builders/require-tools.ts';
import type { BootChooser } from '../../agent/slots/boot-chooser.ts';
import type { GrubenvState } from '../../platform/grub/grubenv-flags.ts';
import type { RuleSlot } from '../../agent/slots/slot-rules.ts';
import type { TempDir } from '../builders/coreos-disk.ts';

const skip = missingTools({ ...SGDISK, ...GRUB_TOOLS });
let dir: TempDir;
let disk: string;
let pristineDisk: Uint8Array;
let counter = 0;
beforeAll(async () => {
  if (skip !== null) return;
  dir = await tempDir();
  disk = join(dir.path, 'disk.img');
  await makeSmallSlotsImage(disk);
  pristineDisk = await readFile(disk);
});
afterAll(async () => {
  if (skip !== null) return;
  await dir.remove();
});

/** Each slot's verity values as the fixed layout holds them with no root hash recorded (grubenv-verity.ts). */
const NO_VERITY = ['A', 'B'].map((l) => `${l}_VERITY=${'0'.repeat(64)}\n${l}_VERITY_OFFSET=0${' '.repeat(15)}\n`).join('');
const envPath = (): string => join(dir.path, `env-${counter++}`);

async function editenvFile(...assignments: string[]): Promise<string> {
  const path = envPath();
  await run('grub-editenv', [path, 'create']);
  if (assignments.length > 0) await run('grub-editenv', [path, 'set', ...assignments]);
  return path;
}

const editenvList = async (path: string): Promise<string> => (await run('grub-editenv', [path, 'list'])).stdout;
const chooserFor = (env: string): GrubenvBootChooser => new GrubenvBootChooser(({ writable }) => FileBlockDevice.open(disk, { writable }), env);
const flagsOf = (state: Awaited<ReturnType<BootChooser['read']>>): unknown =>
  state.slots.map(({ name, priority, tries, successful }) => ({ name, priority, tries, successful }));

describe.skipIf(skip !== null)(`${skip ?? ''} interoperates with grub-editenv`, () => {
  it('reads what grub-editenv wrote', async () => {
    const env = await editenvFile('ORDER=B A', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=3', 'saved_entry=slipway');
    const state = await chooserFor(env).read();
    expect(state.next).toBe('USR-B');
    expect(state.warnings).toEqual([]);
    expect(flagsOf(state)).toEqual([
      { name: 'USR-A', priority: 1, tries: 0, successful: true },
      { name: 'USR-B', priority: 2, tries: 3, successful: false },
    ]);
  });

  it('changes only our value bytes, in place, and grub-editenv lists the result with every other variable intact', async () => {
    const env = await editenvFile('ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0', 'note=back\\slash', 'multi=line one\nline two');
    const before = await readFile(env);
    await chooserFor(env).stage('USR-B', 2);
    const listed = 'ORDER=B A\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=2\nnote=back\\slash\nmulti=line one\nline two\n';
    expect(await editenvList(env)).toBe(listed);
    const after = await readFile(env);
    expect(after).toHaveLength(1024);
    const changed = [...after.keys()].filter((i) => after[i] !== before[i]);
    const values = parseGrubenv(before, env).filter((v) => v.name === 'ORDER' || v.name === 'B_TRY');
    expect(changed).toEqual(values.flatMap((v) => (v.name === 'ORDER' ? [v.offset, v.offset + 2] : [v.offset])));
    // grub-editenv changes a value (as GRUB's save_env would) and slipway reads the change.
    await run('grub-editenv', [env, 'set', 'B_TRY=1']);
    expect((await chooserFor(env).markGood('USR-B')).slots[1]).toMatchObject({ tries: 0, successful: true });
    expect(await editenvList(env)).toBe(listed.replace('B_OK=0', 'B_OK=1').replace('B_TRY=2', 'B_TRY=0'));
  });

  it('rewrites a hand-made file once into the fixed layout, keeping the other variables', async () => {
    const env = await editenvFile('A_OK=1', 'B_TRY=10', 'B_OK=yes', 'saved_entry=x y');
    const read = await chooserFor(env).read();
    expect(read.warnings).toEqual([expect.stringMatching(/is not in slipway's fixed layout \(no ORDER; no A_TRY; B_OK="yes"; B_TRY="10"\)/)]);
    expect(flagsOf(read)).toEqual([
      { name: 'USR-A', priority: 1, tries: 0, successful: true },
      { name: 'USR-B', priority: 0, tries: 0, successful: false },
    ]);
    const staged = await chooserFor(env).stage('USR-B', 1);
    expect(staged.warnings).toEqual([expect.stringMatching(/^rewrote .* in slipway's fixed layout/)]);
    expect(await editenvList(env)).toBe(`ORDER=B A\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=1\n${NO_VERITY}saved_entry=x y\n`);
    expect(layoutProblems(parseGrubenv(await readFile(env), env))).toEqual([]);
    expect((await chooserFor(env).read()).warnings).toEqual([]);
  });

  it('writes the block an image builder installs, which grub-editenv lists as given', async () => {
    const env = envPath();
    const state: GrubenvState = { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    await writeFile(env, fixedLayoutBlock(state, [{ name: 'saved_entry', raw: 'a\\\\b' }], env));
    expect(await editenvList(env)).toBe(`ORDER=A B\nA_OK=1\nA_TRY=0\nB_OK=0\nB_TRY=0\n${NO_VERITY}saved_entry=a\\b\n`);
    expect(layoutProblems(parseGrubenv(await readFile(env), env))).toEqual([]);
  });

  it('refuses bad files with the file and problem named, writing nothing', async () => {
    const files: [string, string | Buffer, RegExp][] = [
      ['short.env', '# GRUB Environment Block\nORDER=A B\n', /short\.env is 35 bytes; a GRUB environment block is 1024/],
      ['noheader.env', 'ORDER=A B\n'.padEnd(1024, '#'), /noheader\.env does not start with "# GRUB Environment Block"/],
      ['garbage.env', '# GRUB Environment Block\nnot a variable\n'.padEnd(1024, '#'), /garbage\.env: line at byte 25 is not NAME=value/],
    ];
    for (const [name, content, message] of files) {
      const path = join(dir.path, name);
      await writeFile(path, content);
      const before = await readFile(path);
      for (const attempt of [() => chooserFor(path).stage('USR-B', 1), () => chooserFor(path).read()]) {
        await expect(attempt()).rejects.toMatchObject({ code: 'ERR_GRUBENV_INVALID', message: expect.stringMatching(message) as unknown });
      }
      expect(Buffer.compare(await readFile(path), before)).toBe(0);
    }
    await expect(chooserFor(join(dir.path, 'missing.env')).read()).rejects.toMatchObject({ code: 'ERR_DEVICE_IO' });
  });

  it('writes nothing when the disk has no GPT with the two slots', async () => {
    const env = await editenvFile('ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0');
    const before = await readFile(env);
    const chooser = new GrubenvBootChooser(() => Promise.resolve(new MemoryBlockDevice(new Uint8Array(1024 * 1024))), env);
    await expect(chooser.stage('USR-B', 1)).rejects.toMatchObject({ code: 'ERR_NOT_GPT' });
    expect(Buffer.compare(await readFile(env), before)).toBe(0);
  });

  it('refuses more tries than one digit holds, naming the limit', async () => {
    const env = await editenvFile('ORDER=A B', 'A_OK=1', 'A_TRY=0', 'B_OK=0', 'B_TRY=0');
    await expect(chooserFor(env).stage('USR-B', 10)).rejects.toMatchObject({ code: 'ERR_TRIES_OUT_OF_RANGE', message: expect.stringContaining('at most 9 tries') as unknown });
    expect((await chooserFor(env).stage('USR-B', 9)).slots[1]?.tries).toBe(9);
  });
});

/** Every state of our five variables; tries 0..2 stand for every digit (only 0 vs. non-zero matters). */
function allStates(): GrubenvState[] {
  const states: GrubenvState[] = [];
  for (const ORDER of ['A B', 'B A'])
    for (const A_OK of ['0', '1'])
      for (const B_OK of ['0', '1'])
        for (const A_TRY of ['0', '1', '2']) for (const B_TRY of ['0', '1', '2']) states.push({ ORDER, A_OK, A_TRY, B_OK, B_TRY });
  return states;
}

const operations: [string, (c: BootChooser) => Promise<unknown>, (s: readonly RuleSlot[]) => RuleSlot[]][] = [
  ['stage USR-A', (c) => c.stage('USR-A', 1), (s) => stageSlot(s, 'USR-A', 1)],
  ['stage USR-B', (c) => c.stage('USR-B', 2), (s) => stageSlot(s, 'USR-B', 2)],
  ['mark USR-A good', (c) => c.markGood('USR-A'), (s) => markSlotGood(s, 'USR-A')],
  ['mark USR-B good', (c) => c.markGood('USR-B'), (s) => markSlotGood(s, 'USR-B')],
  ['mark USR-A unbootable', (c) => c.markUnbootable('USR-A'), (s) => markSlotUnbootable(s, 'USR-A')],
  ['mark USR-B unbootable', (c) => c.markUnbootable('USR-B'), (s) => markSlotUnbootable(s, 'USR-B')],
  ['roll back from USR-A', (c) => c.rollback('USR-A'), (s) => rollbackFrom(s, 'USR-A')],
  ['roll back from USR-B', (c) => c.rollback('USR-B'), (s) => rollbackFrom(s, 'USR-B')],
];

function blockFor(state: GrubenvState, extra = ''): Buffer {
  const body = `# GRUB Environment Block\nORDER=${state.ORDER}\nA_OK=${state.A_OK}\nA_TRY=${state.A_TRY}\nB_OK=${state.B_OK}\nB_TRY=${state.B_TRY}\n${extra}`;
  return Buffer.from(body.padEnd(1024, '#'), 'latin1');
}

interface Write {
  readonly offset: number;
  readonly data: Uint8Array;
}

/** Runs `operation` on the real file, recording each write the adapter makes and checking an fsync follows it. */
async function recordWrites(env: string, operation: (c: BootChooser) => Promise<unknown>): Promise<{ writes: Write[]; error: unknown }> {
  const probe = await open(env, 'r');
  const proto = Object.getPrototypeOf(probe) as { write(data: Uint8Array, offset: number, length: number, position: number): Promise<unknown>; sync(): Promise<void> };
  await probe.close();
  const write = vi.spyOn(proto, 'write');
  const sync = vi.spyOn(proto, 'sync');
  let error: unknown = null;
  try {
    await operation(new GrubenvBootChooser(() => Promise.resolve(new MemoryBlockDevice(pristineDisk)), env));
  } catch (caught) {
    error = caught;
  }
  const events = [
    ...write.mock.calls.map(([data, offset, length, position], i) => ({ at: write.mock.invocationCallOrder[i] ?? 0, write: { offset: position, data: data.slice(offset, offset + length) } })),
    ...sync.mock.invocationCallOrder.map((at) => ({ at, write: null })),
  ].sort((a, b) => a.at - b.at);
  write.mockRestore();
  sync.mockRestore();
  events.forEach((event, i) => expect(event.write === null, `event ${i} alternates write, fsync`).toBe(i % 2 === 1));
  return { writes: events.flatMap((e) => (e.write ? [e.write] : [])), error };
}

/** The file after `whole` writes, then the bytes of the next write chosen by `mask` (bit i = byte i landed). */
function torn(base: Uint8Array, writes: readonly Write[], whole: number, mask: number): Uint8Array {
  const image = Uint8Array.from(base);
  writes.slice(0, whole).forEach((w) => image.set(w.data, w.offset));
  writes[whole]?.data.forEach((byte, i) => {
    if ((mask >> i) & 1) image[(writes[whole]?.offset ?? 0) + i] = byte;
  });
  return image;
}

const stateOf = (bytes: Uint8Array): GrubenvState => canonicalState(stateFromVariables(parseGrubenv(bytes, 'env')));

describe.skipIf(skip !== null)(`${skip ?? ''} a power cut inside any GRUB environment update`, () => {
  it.each(operations)('%s: every torn file the adapter can leave boots the old or the new choice', async (_name, operation, rule) => {
    const problems: string[] = [];
    let cuts = 0;
    for (const from of allStates()) {
      for (const base of [blockFor(from), blockFor(from, 'saved_entry=x\n')]) {
        const env = envPath();
        await writeFile(env, base);
        const { writes, error } = await recordWrites(env, operation);
        let target: GrubenvState;
        try {
          target = fromRuleSlots(rule(toRuleSlots(from)));
        } catch (refusal) {
          // The rule refuses (a rollback to a slot never marked good): so must the adapter, writing nothing.
          expect([error, writes]).toEqual([refusal, []]);
          continue;
        }
        expect(error).toBeNull();
        expect(Buffer.compare(await readFile(env), torn(base, writes, writes.length, 0))).toBe(0);
        expect(stateOf(await readFile(env))).toEqual(target);
        const allowed = [grubenvNext(from), grubenvNext(target)];
        const mustBoot = !allowed.includes(null);
        // Every prefix cut (each byte offset inside each write) and every other mix of a write's bytes.
        for (let whole = 0; whole <= writes.length; whole++) {
          for (let mask = 0; mask < 2 ** (writes[whole]?.data.length ?? 0); mask++) {
            const next = grubenvNext(stateOf(torn(base, writes, whole, mask)));
            if (!allowed.includes(next) || (mustBoot && next === null)) problems.push(`${JSON.stringify(from)}: cut after ${whole} writes, mask ${mask}: ${next}`);
            cuts++;
          }
        }
      }
    }
    expect(problems).toEqual([]);
    expect(cuts).toBeGreaterThan(100);
  });

  it('converts a hand-made file with the old state first, then the planned writes', async () => {
    const from: GrubenvState = { ORDER: 'A B', A_OK: '1', A_TRY: '0', B_OK: '0', B_TRY: '0' };
    const env = envPath();
    const base = Buffer.from('# GRUB Environment Block\nA_OK=1\nsaved_entry=x\n'.padEnd(1024, '#'), 'latin1');
    await writeFile(env, base);
    const { writes } = await recordWrites(env, (c) => c.stage('USR-B', 1));
    expect(writes.map((w) => w.data.length)).toEqual([1024, 3, 1]);
    const converted = torn(base, writes, 1, 0);
    expect(stateOf(converted)).toEqual(from);
    expect(parseGrubenv(converted, 'env').find((v) => v.name === 'saved_entry')?.value).toBe('x');
    for (let whole = 1; whole <= writes.length; whole++) {
      for (let mask = 0; mask < 2 ** (writes[whole]?.data.length ?? 0); mask++) expect(['USR-A', 'USR-B']).toContain(grubenvNext(stateOf(torn(base, writes, whole, mask))));
    }
    expect(stateOf(await readFile(env))).toEqual(fromRuleSlots(stageSlot(toRuleSlots(from), 'USR-B', 1)));
  });
});

type ScriptNode =
  | { readonly kind: 'command'; readonly words: string[] }
  | { readonly kind: 'if'; readonly branches: { readonly test: string[] | null; readonly body: ScriptNode[] }[] }
  | { readonly kind: 'for'; readonly name: string; readonly words: string[]; readonly body: ScriptNode[] };

/** Words of a line as GRUB splits them: quoted parts stay together, quotes are kept for expansion. */
const wordsOf = (line: string): string[] => line.match(/(?:[^\s"]+|"[^"]*")+/g) ?? [];

/** Parses the subset of GRUB script that grubCfgChooser emits: one command or keyword per line. */
function parseScript(script: string): ScriptNode[] {
  const lines = script.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  let at = 0;
  const block = (end: RegExp): ScriptNode[] => {
    const nodes: ScriptNode[] = [];
    for (let line = lines[at]; line !== undefined && !end.test(line); line = lines[at]) {
      at++;
      const ifMatch = /^if (.*); then$/.exec(line);
      const forMatch = /^for (\w+) in (.*); do$/.exec(line);
      if (ifMatch) {
        const branches: { test: string[] | null; body: ScriptNode[] }[] = [{ test: wordsOf(ifMatch[1] ?? ''), body: block(/^(elif .*; then|else|fi)$/) }];
        for (let next = lines[at++]; next !== 'fi'; next = lines[at++]) {
          if (next === undefined) throw new Error('unterminated if');
          const elif = /^elif (.*); then$/.exec(next);
          branches.push({ test: elif ? wordsOf(elif[1] ?? '') : null, body: block(/^(elif .*; then|else|fi)$/) });
        }
        nodes.push({ kind: 'if', branches });
      } else if (forMatch) {
        nodes.push({ kind: 'for', name: forMatch[1] ?? '', words: wordsOf(forMatch[2] ?? ''), body: block(/^done$/) });
        at++;
      } else nodes.push({ kind: 'command', words: wordsOf(line) });
    }
    return nodes;
  };
  return block(/^$/);
}

interface ScriptRun {
  readonly vars: Map<string, string>;
  readonly saved: string[][];
}

/** Runs the parsed script with `envFile` as the loaded environment; save_env calls are recorded. */
function runScript(nodes: readonly ScriptNode[], envFile: Readonly<Record<string, string>>): ScriptRun {
  const vars = new Map<string, string>();
  const saved: string[][] = [];
  const value = (word: string): string => word.replace(/"/g, '').replace(/\$(\w+)/g, (_, name: string) => vars.get(name) ?? '');
  // An unquoted $VAR splits into words, as in GRUB; a quoted one stays one word.
  const expand = (words: readonly string[]): string[] => words.flatMap((w) => (w.startsWith('$') ? value(w).split(/\s+/).filter(Boolean) : [value(w)]));
  const test = (words: readonly string[]): boolean => {
    const [open, ...rest] = words;
    if (open !== '[' || rest.at(-1) !== ']') throw new Error(`unsupported test ${words.join(' ')}`);
    const args = rest.slice(0, -1);
    if (args.length === 2 && args[0] === '-z') return value(args[1] ?? '') === '';
    if (args.length === 3 && args[1] === '=') return value(args[0] ?? '') === value(args[2] ?? '');
    throw new Error(`unsupported test ${words.join(' ')}`);
  };
  const exec = (list: readonly ScriptNode[]): void => {
    for (const node of list) {
      if (node.kind === 'if') exec(node.branches.find((b) => b.test === null || test(b.test))?.body ?? []);
      else if (node.kind === 'for') {
        for (const word of expand(node.words)) {
          vars.set(node.name, word);
          exec(node.body);
        }
      } else {
        const [command, ...args] = node.words;
        if (command === 'set') {
          const assignment = args.join(' ');
          vars.set(assignment.slice(0, assignment.indexOf('=')), value(assignment.slice(assignment.indexOf('=') + 1)));
        } else if (command === 'load_env' && args[0] === '--file') {
          for (const name of args.slice(2)) if (name in envFile) vars.set(name, envFile[name] ?? '');
        } else if (command === 'save_env' && args[0] === '--file') saved.push(args.slice(2).map((name) => `${name}=${vars.get(name) ?? ''}`));
        else throw new Error(`unsupported command ${node.words.join(' ')}`);
      }
    }
  };
  exec(nodes);
  return { vars, saved };
}

describe('the generated grub.cfg fragment', () => {
  const script = grubCfgChooser({ envFile: '($root)/slipway/grubenv' });

  it.skipIf(missingTools(GRUB_TOOLS) !== null)(`${missingTools(GRUB_TOOLS) ?? ''} passes grub-script-check`, async () => {
    const scratch = await tempDir();
    try {
      const path = join(scratch.path, 'grub.cfg');
      await writeFile(path, `${script}menuentry "USR-A" --id ${DEFAULT_MENU_ENTRY_IDS.A} { echo $slot }\n`);
      await expect(run('grub-script-check', [path])).resolves.toBeDefined();
      // The checker must be able to fail: an unclosed if is refused.
      await writeFile(path, `${script}if true; then\n`);
      await expect(run('grub-script-check', [path])).rejects.toThrow();
    } finally {
      await scratch.remove();
    }
  });

  it('boots what the model chooses from every state, torn ORDER included, spending one try', () => {
    const nodes = parseScript(script);
    const digits = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
    const problems: string[] = [];
    for (const ORDER of ['A B', 'B A', 'A A', 'B B'])
      for (const A_OK of ['0', '1'])
        for (const B_OK of ['0', '1'])
          for (const A_TRY of digits)
            for (const B_TRY of digits) {
              const state: GrubenvState = { ORDER, A_OK, A_TRY, B_OK, B_TRY };
              const { vars, saved } = runScript(nodes, { ...state });
              const model = grubenvNext(state);
              const letter = model === 'USR-B' ? 'B' : 'A';
              const after = simulateBoot(toRuleSlots(state)).slots;
              const tries = after.map((s) => String(s.tries)).join();
              const spent = model !== null && state[`${letter}_TRY`] !== '0';
              const expected = [letter, DEFAULT_MENU_ENTRY_IDS[letter], model === null ? '1' : '0', tries, spent ? `A_TRY=${after[0]?.tries} B_TRY=${after[1]?.tries}` : ''];
              const got = [vars.get('slot'), vars.get('default'), vars.get('slipway_fallback'), `${vars.get('A_TRY')},${vars.get('B_TRY')}`, saved.map((s) => s.join(' ')).join('|')];
              if (got.join('/') !== expected.join('/')) problems.push(`${JSON.stringify(state)}: got ${got.join('/')}, expected ${expected.join('/')}`);
            }
    expect(problems).toEqual([]);
  });

  it('with no readable environment boots slot A as the last resort and writes nothing', () => {
    const { vars, saved } = runScript(parseScript(script), {});
    expect([vars.get('slot'), vars.get('default'), vars.get('slipway_fallback'), saved]).toEqual(['A', DEFAULT_MENU_ENTRY_IDS.A, '1', []]);
  });

  it('loads each slot\'s recorded root hash and offset, and leaves them empty when the environment has none', () => {
    const hash = 'ab'.repeat(32);
    const { vars } = runScript(parseScript(script), { ORDER: 'A B', A_OK: '1', A_VERITY: hash, A_VERITY_OFFSET: '212406272       ' });
    expect([vars.get('A_VERITY'), vars.get('A_VERITY_OFFSET'), vars.get('B_VERITY'), vars.get('B_VERITY_OFFSET')]).toEqual([hash, '212406272       ', '', '']);
    expect(runScript(parseScript(script), {}).vars.get('A_VERITY')).toBe('');
  });

  it('uses the given menuentry ids, and refuses a path or id it cannot quote', () => {
    const custom = grubCfgChooser({ envFile: '(hd0,gpt1)/grubenv', menuEntryIds: { A: 'a', B: 'b' } });
    expect(runScript(parseScript(custom), { ORDER: 'B A', B_OK: '1' }).vars.get('default')).toBe('b');
    expect(() => grubCfgChooser({ envFile: '/x"; reboot; "' })).toThrow(expect.objectContaining({ code: 'ERR_GRUBENV_INVALID' }));
    expect(() => grubCfgChooser({ envFile: '/grubenv', menuEntryIds: { A: 'a b', B: 'b' } })).toThrow(expect.objectContaining({ code: 'ERR_GRUBENV_INVALID' }));
  });
});
