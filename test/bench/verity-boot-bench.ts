// Benchmark of dm-verity's cost at boot (npm run bench:verity-boot [-- --runs N]): the same OS disk
// booted under QEMU (TCG) with slot A's root hash recorded, as built (the initramfs mounts the slot
// through dm-verity), and with it cleared on the ESP (the slot mounted as is), alternating, N times
// each. Prints, per boot, seconds from power-on to the kernel's command line, to systemd's "Welcome"
// (the root mounted, the initramfs done) and to the login prompt, and systemd-analyze's split. The
// last line is one JSON object.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { ESP_GRUBENV } from '../../images/os/esp-image.ts';
import { GrubenvSlotHashStore } from '../../agent/slots/grubenv-hash-store.ts';
import { buildLabImages } from '../../qemu/lab-images.ts';
import { Timings } from '../../qemu/timings.ts';
import { Vm } from '../../qemu/vm.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const dir = await mkdtemp(join(tmpdir(), 'slipway-verity-boot-'));
/** The ESP starts at 1 MiB (images/os/disk-image.ts); mtools reads a FAT at an offset in a file. */
const ESP = (disk: string): string => `${disk}@@${1024 * 1024}`;
const mtools = { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } };

interface Boot {
  readonly verity: boolean;
  readonly cmdline: number;
  readonly welcome: number;
  readonly login: number;
  readonly analyze: string;
  readonly root: string;
}

/** Clears slot A's recorded hash on the disk's ESP, as the agent does before it overwrites a slot. */
async function clearHash(disk: string): Promise<void> {
  const local = join(dir, 'grubenv');
  await run('mcopy', ['-o', '-i', ESP(disk), `::${ESP_GRUBENV}`, local], mtools);
  await new GrubenvSlotHashStore(local).write('USR-A', null);
  await run('mcopy', ['-o', '-i', ESP(disk), local, `::${ESP_GRUBENV}`], mtools);
}

async function boot(disk: string, verity: boolean, index: number): Promise<Boot> {
  const vm = await Vm.create({ name: `boot-${index}`, baseDisk: disk, workDir: join(dir, `vm-${index}`) });
  const started = Date.now();
  const at = async (pattern: RegExp): Promise<number> => {
    await vm.waitForSerial(pattern, 600_000);
    return (Date.now() - started) / 1000;
  };
  try {
    await vm.start();
    const cmdline = await at(/Kernel command line:/);
    const welcome = await at(/Welcome to [^\n]*slipway OS/);
    const login = await at(/login: /);
    await vm.waitForBoot(600_000);
    const analyze = (await vm.exec('/usr/bin/systemd-analyze', [])).stdout.split('\n')[0] ?? '';
    const root = (await vm.exec('/bin/findmnt', ['-no', 'SOURCE', '/'])).stdout.trim();
    return { verity, cmdline, welcome, login, analyze, root };
  } finally {
    await vm.stop();
  }
}

try {
  const images = await buildLabImages(dir, '1.0.0', [], new Timings());
  const plain = join(dir, 'disk-plain.img');
  await run('cp', ['--sparse=always', images.disk, plain]);
  await clearHash(plain);
  const boots: Boot[] = [];
  for (let i = 0; i < runs; i++) {
    for (const verity of [true, false]) {
      const result = await boot(verity ? images.disk : plain, verity, boots.length);
      boots.push(result);
      console.log(`${verity ? 'verity' : 'plain '}  root ${result.root.padEnd(28)} kernel line ${result.cmdline.toFixed(1)} s, root mounted ${result.welcome.toFixed(1)} s, login ${result.login.toFixed(1)} s  (${result.analyze})`);
    }
  }
  const mean = (verity: boolean, key: 'welcome' | 'login'): number => {
    const of = boots.filter((b) => b.verity === verity).map((b) => b[key]);
    return of.reduce((a, b) => a + b, 0) / of.length;
  };
  console.log(`mean: root mounted ${mean(true, 'welcome').toFixed(1)} s with dm-verity, ${mean(false, 'welcome').toFixed(1)} s without; login ${mean(true, 'login').toFixed(1)} s against ${mean(false, 'login').toFixed(1)} s`);
  console.log(JSON.stringify({ runs, boots, mean: { verity: { welcome: mean(true, 'welcome'), login: mean(true, 'login') }, plain: { welcome: mean(false, 'welcome'), login: mean(false, 'login') } } }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
