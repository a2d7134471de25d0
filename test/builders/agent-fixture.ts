// A running `slipway agent` for end-to-end tests: a private bus with the system bus's policy and
// slipway's policy file, a real etcd, a loopback release server with 1.0.1 published, a sgdisk-made
// disk booted from USR-A at 1.0.0, systemd and logind stand-ins, and the agent as a real process
// that can be stopped with SIGTERM and started again.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateSigningKey } from '../../images/release-key.ts';
import { publishRelease } from '../../images/publish-release.ts';
import { makeCoreosImage, tempDir } from './coreos-disk.ts';
import { startSystemLikeBus } from './dbus-daemon.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { runSlipway } from './run-slipway.ts';
import { writeHostFixture } from './host-fixture.ts';
import { startFakeLogind } from '../fakes/fake-logind.ts';
import { startFakeSystemd } from '../fakes/fake-systemd.ts';
import type { ChildProcess } from 'node:child_process';
import type { DbusDaemon } from './dbus-daemon.ts';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';
import type { SlipwayRun } from './run-slipway.ts';
import type { RolloutSchedule } from '../../images/rollout-schedule.ts';

export const AGENT_POLICY = join(import.meta.dirname, '..', '..', 'images', 'dbus', 'org.slipway.Agent1.conf');

export interface AgentFixture {
  readonly dir: string;
  readonly bus: DbusDaemon;
  readonly etcd: EtcdServer;
  readonly server: ReleaseServer;
  readonly env: NodeJS.ProcessEnv;
  /** slipway's global options that point it at the fixture's files (settings, os-release, command line, mountinfo, sysfs). */
  readonly hostArgs: readonly string[];
  readonly logind: Awaited<ReturnType<typeof startFakeLogind>>;
  readonly systemd: Awaited<ReturnType<typeof startFakeSystemd>>;
  slipway(args: string[], uid?: number): Promise<SlipwayRun>;
  /** Starts the agent process and resolves once it serves its D-Bus interface. */
  startAgent(): Promise<void>;
  /** SIGTERM, and wait for the process to end; resolves with its exit code. */
  stopAgent(): Promise<number | null>;
  /** Sends `signal` to the running agent (SIGSTOP and SIGCONT freeze and thaw it). */
  signalAgent(signal: NodeJS.Signals): void;
  agentLog(): string;
  close(): Promise<void>;
}

export interface AgentFixtureOptions {
  readonly imageBytes?: number;
  /** false leaves the agent to the caller (the start benchmark spawns the bundle itself). */
  readonly startAgent?: boolean;
  /** Replaces the kernel command line that says the disk's USR-A is running. */
  readonly cmdline?: string;
  /** Settings laid over the fixture's own, section by section (`{ lock: { etcd: { lease: '3s' } } }`). */
  readonly settings?: Record<string, Record<string, unknown>>;
  /** The published 1.0.1's rollout (its manifest is then format 2). */
  readonly rollout?: RolloutSchedule;
  /** The host's /etc/machine-id (a file of the fixture's, through --machine-id); the real one when not given. */
  readonly machineId?: string;
}

/** `base` with each section of `over` laid over it, one level deep below the section (lock.etcd keeps its endpoints). */
function overlay(base: Record<string, Record<string, unknown>>, over: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const merged = { ...base };
  for (const [section, values] of Object.entries(over)) {
    const into: Record<string, unknown> = { ...merged[section] };
    for (const [key, value] of Object.entries(values)) {
      const current = into[key];
      into[key] = isObject(current) && isObject(value) ? { ...current, ...value } : value;
    }
    merged[section] = into;
  }
  return merged;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function startAgentFixture(options: AgentFixtureOptions = {}): Promise<AgentFixture> {
  const dir = (await tempDir()).path;
  const www = join(dir, 'www');
  await mkdir(www);
  const key = await generateSigningKey({ name: 'test release', email: 'release@test.invalid', now: new Date(Date.now() - 86_400_000) });
  await writeFile(join(dir, 'keyring.asc'), key.publicArmored);
  await writeFile(join(dir, 'slot.img'), randomBytes(options.imageBytes ?? 1024 * 1024));
  await publishRelease({
    image: join(dir, 'slot.img'),
    version: '1.0.1',
    channel: 'stable',
    arch: 'x86_64',
    board: 'qemu',
    privateKeyArmored: key.privateArmored,
    outDir: www,
    now: new Date(),
    expiresInSeconds: 86_400,
    chunkSize: 256 * 1024,
    ...(options.rollout === undefined ? {} : { rollout: options.rollout }),
  });
  const server = await startReleaseServer(www);
  const etcd = await startEtcd();
  const bus = await startSystemLikeBus([AGENT_POLICY]);
  const systemd = await startFakeSystemd(bus.address, join(dir, 'root'));
  systemd.manager.active.set('multi-user.target', 'active');
  const logind = await startFakeLogind(bus.address);

  const disk = join(dir, 'disk.img');
  await makeCoreosImage(disk);
  const config = join(dir, 'config.d');
  await mkdir(config);
  const fragment = overlay({
    update: { server: server.url, channel: 'stable', board: 'qemu', keyring: join(dir, 'keyring.asc'), state_dir: join(dir, 'state'), first_check: '1h', tries: 3 },
    slots: { disk, chooser: 'gptprio' },
    reboot: { strategy: 'etcd-lock' },
    lock: { etcd: { endpoints: [etcd.url] } },
    health: { timeout: '30s', settle: '1s' },
    metrics: { listen: false },
  }, options.settings ?? {});
  await writeFile(join(config, '50-test.yaml'), `${JSON.stringify(fragment, null, 2)}\n`);
  await writeFile(join(dir, 'os-release'), 'NAME=slipway\nVERSION_ID=1.0.0\n');
  // Booted from the disk's USR-A, as the OS image's GRUB says it; / an overlay, so mountinfo adds nothing.
  const host = await writeHostFixture(join(dir, 'host'), { cmdline: options.cmdline ?? 'root=PARTLABEL=USR-A ro quiet' });
  const env = {
    ...process.env,
    DBUS_SYSTEM_BUS_ADDRESS: bus.address,
  };
  // The host's files are the fixture's own, through slipway's global options.
  if (options.machineId !== undefined) await writeFile(join(dir, 'machine-id'), `${options.machineId}\n`);
  const hostArgs = ['--config-dir', config, '--os-release', join(dir, 'os-release'), ...host.hostArgs, ...(options.machineId === undefined ? [] : ['--machine-id', join(dir, 'machine-id')])];

  let agent: ChildProcess | null = null;
  let log = '';
  const startAgent = async (): Promise<void> => {
    const child = spawn(process.execPath, ['agent/main.ts', ...hostArgs, 'agent'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    agent = child;
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the agent exited with ${code}:\n${log}`)));
      createInterface({ input: child.stderr ?? process.stdin }).on('line', (line) => {
        log += `${line}\n`;
        if (line.includes('agent running')) resolve();
      });
    });
  };
  const stopAgent = async (): Promise<number | null> => {
    const child = agent;
    if (child === null || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    agent = null;
    return exited;
  };
  if (options.startAgent !== false) await startAgent();
  return {
    dir,
    bus,
    etcd,
    server,
    env,
    hostArgs,
    logind,
    systemd,
    slipway: (args, uid) => runSlipway([...hostArgs, ...args], { env, ...(uid === undefined ? {} : { uid }) }),
    startAgent,
    stopAgent,
    signalAgent: (signal) => {
      if (agent === null) throw new Error('the agent is not running');
      agent.kill(signal);
    },
    agentLog: () => log,
    close: async () => {
      await stopAgent();
      logind.bus.disconnect();
      systemd.bus.disconnect();
      await bus.stop();
      await etcd.stop();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
