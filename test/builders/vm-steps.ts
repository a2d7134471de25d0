// Steps the VM scenarios share: run slipway in a guest, wait for the reboot the agent asks logind
// for and the boot after it, and read the lock from etcd until it is free.

import { expect } from 'vitest';
import type { FleetLab, LockRevision, LockView } from '../../qemu/fleet-lab.ts';
import type { StatusReport } from '../../agent/daemon/agent-status.ts';

export const BOOT_MS = 600_000;

/** `slipway ARGS --json` in the guest; its exit code is checked. */
export async function slipwayIn(lab: FleetLab, host: string, args: readonly string[], expectedCode = 0): Promise<Record<string, unknown>> {
  const run = await lab.vm(host).exec('/usr/bin/slipway', [...args, '--json'], BOOT_MS);
  expect(run.code, `slipway ${args.join(' ')} on ${host}: ${run.stderr}`).toBe(expectedCode);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** The console offset now: markers after it belong to what happens next. */
export const mark = (lab: FleetLab, host: string): number => lab.vm(host).console().length;

/** Waits for the guest's reboot after `from`, then for the boot of `slot` and an answering guest agent. */
export async function rebootInto(lab: FleetLab, host: string, slot: 'USR-A' | 'USR-B', from: number): Promise<void> {
  const vm = lab.vm(host);
  const restart = await vm.waitForSerial(/reboot: Restarting system/, BOOT_MS, from);
  const after = from + (restart.index ?? 0) + restart[0].length;
  await vm.waitForSerial(new RegExp(`root=PARTLABEL=${slot}`), BOOT_MS, after);
  await vm.waitForBoot(BOOT_MS, after);
}

/** The status once the health gate has decided (it is neither pending nor failed any more). */
export function settled(lab: FleetLab, host: string): Promise<StatusReport> {
  return lab.waitForStatus(host, (s) => s.health === 'confirmed' && s.activity === 'idle', BOOT_MS);
}

/** Waits until no host holds the reboot lock. */
export async function lockFree(lab: FleetLab): Promise<void> {
  const deadline = Date.now() + BOOT_MS;
  while ((await lab.semaphore()).holders.length > 0) {
    if (Date.now() > deadline) {
      const journals = await Promise.all([...lab.vms.keys()].map((host) => lab.agentJournal(host).catch((error: unknown) => `${host}: ${String(error)}`)));
      throw new Error(`the reboot lock is still held by ${(await lab.semaphore()).holders.join(', ')}\n${journals.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** Revisions at which a host waited in line while another held a place: contention really happened. */
export function contention(views: readonly LockView[]): { revision: number; waiting: string; holders: readonly string[] }[] {
  return views.flatMap((v) => v.waiting.filter((id) => v.holders.length > 0 && !v.holders.includes(id)).map((waiting) => ({ revision: v.revision, waiting, holders: v.holders })));
}

/**
 * Writes of the semaphore that let a new holder in where the value before had no room, or that put
 * one holder in another's place in one write: each must be empty.
 */
export function unsafeHandoffs(history: readonly LockRevision[]): { revision: number; before: readonly string[]; after: readonly string[] }[] {
  return history.slice(1).flatMap((next, i) => {
    const before = history[i]?.semaphore;
    if (before === undefined) return [];
    const added = next.semaphore.holders.filter((h) => !before.holders.includes(h));
    const removed = before.holders.filter((h) => !next.semaphore.holders.includes(h));
    const roomBefore = before.holders.length < before.max;
    return added.length > 0 && (removed.length > 0 || !roomBefore) ? [{ revision: next.revision, before: before.holders, after: next.semaphore.holders }] : [];
  });
}

/** The most holders the semaphore ever had at once, over its whole etcd history. */
export async function mostHoldersEver(lab: FleetLab): Promise<number> {
  return Math.max(0, ...(await lab.lockHistory()).map((r) => r.semaphore.holders.length));
}
