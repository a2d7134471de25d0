// A VM under QEMU (TCG, OVMF) for tests and the demo: a copy-on-write overlay on a disk image, the
// serial console captured and matched for markers, commands run through the guest agent, an optional
// config-drive, reboot and power cut; everything torn down by stop(), whatever happened before.

import { execFile, spawn } from 'node:child_process';
import { appendFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GuestAgent } from './guest-agent.ts';
import type { ChildProcess } from 'node:child_process';
import type { GuestRun } from './guest-agent.ts';

const run = promisify(execFile);

export interface VmOptions {
  readonly name: string;
  /** The disk image the overlay is made on; it is never written. */
  readonly baseDisk: string;
  readonly workDir: string;
  readonly configDrive?: string;
  /** A FAT disk labelled OEM whose grub.cfg adds kernel arguments (makeOemDrive). */
  readonly oemDrive?: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /** Kept across power cuts and restarts: the VM's own disk. */
  readonly keepOverlay?: boolean;
}

/** A FAT config-drive (label config-2) holding openstack/latest/user_data, built with mtools. */
export async function makeConfigDrive(path: string, userData: string): Promise<void> {
  await rm(path, { force: true });
  await run('mkfs.vfat', ['-C', '-n', 'config-2', path, '4096']);
  const file = `${path}.user_data`;
  await writeFile(file, userData);
  await run('mmd', ['-i', path, '::/openstack', '::/openstack/latest']);
  await run('mcopy', ['-i', path, file, '::/openstack/latest/user_data']);
  await rm(file, { force: true });
}

/**
 * A FAT disk labelled OEM holding a grub.cfg that sets `linux_append`, as a provider's OEM partition
 * does on Flatcar: slipway's GRUB adds those words to the kernel command line.
 */
export async function makeOemDrive(path: string, linuxAppend: string): Promise<void> {
  if (/["$\\\n]/.test(linuxAppend)) throw new Error(`kernel arguments for an OEM grub.cfg must not hold quotes, $, backslashes or newlines: ${linuxAppend}`);
  await rm(path, { force: true });
  await run('mkfs.vfat', ['-C', '-n', 'OEM', path, '1024']);
  const file = `${path}.grub.cfg`;
  await writeFile(file, `set linux_append="${linuxAppend}"\n`);
  await run('mcopy', ['-i', path, file, '::/grub.cfg']);
  await rm(file, { force: true });
}

export class Vm {
  readonly options: VmOptions;
  readonly overlay: string;
  readonly serialLog: string;
  private qemu: ChildProcess | null = null;
  private agent: GuestAgent | null = null;
  private serial = '';
  private waiters: (() => void)[] = [];

  private constructor(options: VmOptions) {
    this.options = options;
    this.overlay = join(options.workDir, `${options.name}.qcow2`);
    this.serialLog = join(options.workDir, `${options.name}.serial.log`);
  }

  static async create(options: VmOptions): Promise<Vm> {
    await mkdir(options.workDir, { recursive: true });
    const vm = new Vm(options);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', options.baseDisk, vm.overlay]);
    return vm;
  }

  private socket(): string {
    return join(this.options.workDir, `${this.options.name}.qga`);
  }

  /** Powers the VM on; resolves once QEMU runs (not once the guest booted: see waitForBoot). */
  async start(): Promise<void> {
    if (this.qemu) throw new Error(`${this.options.name} is already running`);
    await rm(this.socket(), { force: true });
    this.serial = '';
    // No default devices (an IDE CD-ROM the firmware tried to boot first, a VGA card), the disk first
    // in the boot order, and no iPXE option ROM on the NIC: less for the firmware to probe under TCG.
    const args = [
      '-accel', 'tcg,tb-size=256',
      '-nodefaults',
      '-m', String(this.options.memoryMiB ?? 1024),
      '-smp', String(this.options.cpus ?? 2),
      '-bios', '/usr/share/ovmf/OVMF.fd',
      '-drive', `file=${this.overlay},if=none,id=disk0,format=qcow2`,
      '-device', 'virtio-blk-pci,drive=disk0,bootindex=0',
      ...(this.options.configDrive ? ['-drive', `file=${this.options.configDrive},if=none,id=config0,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=config0'] : []),
      ...(this.options.oemDrive ? ['-drive', `file=${this.options.oemDrive},if=none,id=oem0,format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=oem0'] : []),
      '-netdev', 'user,id=net0',
      '-device', 'virtio-net-pci,netdev=net0,romfile=',
      '-display', 'none',
      '-monitor', 'none',
      '-serial', 'stdio',
      '-chardev', `socket,path=${this.socket()},server=on,wait=off,id=qga0`,
      '-device', 'virtio-serial',
      '-device', 'virtserialport,chardev=qga0,name=org.qemu.guest_agent.0',
    ];
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.qemu = qemu;
    qemu.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.serial += text;
      void appendFile(this.serialLog, text);
      for (const wake of this.waiters.splice(0)) wake();
    });
    qemu.stderr.on('data', (chunk: Buffer) => void appendFile(this.serialLog, `[qemu] ${chunk.toString('utf8')}`));
    qemu.once('exit', () => {
      this.qemu = null;
      for (const wake of this.waiters.splice(0)) wake();
    });
    await new Promise<void>((resolve, reject) => {
      qemu.once('spawn', resolve);
      qemu.once('error', reject);
    });
  }

  /** Everything the serial console printed since the last start. */
  console(): string {
    return this.serial;
  }

  /** Waits until the serial console (since the last start, from offset `from`) matches `pattern`. */
  async waitForSerial(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.serial.slice(from));
      if (match) return match;
      if (this.qemu === null) throw new Error(`${this.options.name} stopped before its console showed ${pattern}; see ${this.serialLog}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.options.name}: no ${pattern} on the console within ${timeoutMs} ms; see ${this.serialLog}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for a login prompt (multi-user reached) after console offset `from`, and a guest agent that answers. */
  async waitForBoot(timeoutMs = 240_000, from = 0): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.waitForSerial(/login: /, timeoutMs, from);
    for (;;) {
      this.agent?.close();
      this.agent = null;
      try {
        this.agent = await GuestAgent.connect(this.socket());
        await this.agent.ping(5_000);
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  }

  exec(path: string, args: readonly string[] = [], timeoutMs?: number): Promise<GuestRun> {
    if (this.agent === null) throw new Error(`${this.options.name} has not booted`);
    return this.agent.exec(path, args, timeoutMs === undefined ? {} : { timeoutMs });
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    if (this.agent === null) throw new Error(`${this.options.name} has not booted`);
    return this.agent.writeFile(path, data);
  }

  /** Whether commands can be run now; after a reboot the guest did by itself, tries to reconnect once. */
  async ready(): Promise<boolean> {
    if (this.qemu === null) return false;
    if (this.agent?.alive()) return true;
    this.agent?.close();
    this.agent = null;
    try {
      const agent = await GuestAgent.connect(this.socket(), 3_000);
      this.agent = agent;
      return true;
    } catch {
      return false;
    }
  }

  /** `systemctl reboot` in the guest, then waits for the next boot. */
  async reboot(timeoutMs = 240_000): Promise<void> {
    if (this.agent === null) throw new Error(`${this.options.name} has not booted`);
    const before = this.serial.length;
    await this.agent.exec('/usr/bin/systemctl', ['reboot']).catch(() => undefined);
    this.agent.close();
    this.agent = null;
    await this.waitForSerial(/reboot: Restarting system/, timeoutMs, before);
    this.serial = '';
    await this.waitForBoot(timeoutMs);
  }

  /** Pulls the power: QEMU is killed at once (a qcow2 overlay may lose writes the guest did not flush). */
  async powerCut(): Promise<void> {
    const qemu = this.qemu;
    this.agent?.close();
    this.agent = null;
    if (qemu === null) return;
    const exited = new Promise((resolve) => qemu.once('exit', resolve));
    qemu.kill('SIGKILL');
    await exited;
  }

  /** Stops QEMU and removes the VM's files unless keepOverlay. Safe to call twice. */
  async stop(): Promise<void> {
    await this.powerCut();
    if (!this.options.keepOverlay) await rm(this.overlay, { force: true });
    await rm(this.socket(), { force: true });
  }
}
