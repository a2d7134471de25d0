// The agent's behaviour between its ports: after boot, the health gate (mark good and release the
// lock, or roll back); then periodic checks that stage updates and reboot under the fleet lock; and
// the operator's requests (check, apply now, pin, unpin, rollback, reboot if needed), one at a time.
// Where it is in all this is one phase, moved only through agent-phase.ts's table.

import { AgentError, RebootCancelled } from './agent-errors.ts';
import { nextPhase, rebootPending, reportedPhase } from './agent-phase.ts';
import { buildStatus } from './agent-status.ts';
import { breakerOff, chargedOutcomes, haltReason, trialOutcome } from './agent-fleet.ts';
import { causeChain, errorCode } from '../../platform/coded-error.ts';
import { faultKind } from '../update/release-fault.ts';
import { advance } from '../update/update-state.ts';
import { rebuildFloor } from '../update/update-floor.ts';
import { checkByWave, nextCheckDelay } from '../update/update-schedule.ts';
import { UpdateError } from '../update/update-errors.ts';
import { otherSlot } from '../slots/boot-chooser.ts';
import type { AgentPhase, AgentPhaseEvent } from './agent-phase.ts';
import type { AgentCoreDeps, RebootOptions } from './agent-core-deps.ts';
import type { AgentStatus, StatusReport } from './agent-status.ts';
import type { AttemptOutcome } from '../fleet/fleet-agent.ts';
import type { BootState, SlotName } from '../slots/boot-chooser.ts';
import type { PlaceKeeper } from '../lock/place-keeper.ts';
import type { Arming } from '../lock/reboot-coordinator.ts';
import type { PlanDecision, UpdateOutcome } from '../update/run-update-once.ts';
import type { CheckHistory } from '../update/update-schedule.ts';
import type { WaveWait } from '../update/rollout-wave.ts';
import type { UpdateEvent, UpdateRecord } from '../update/update-state.ts';

/** A reboot the agent starts by itself: inside the windows, after block inhibitors. */
const AUTOMATIC: RebootOptions = { now: false, ignoreInhibitors: false };

export class AgentCore {
  private readonly deps: AgentCoreDeps;
  /** The running slot and version, for the code that runs only once it is known. */
  private readonly booted: { readonly slot: SlotName; readonly version: string };
  private record: UpdateRecord | null = null;
  private boot: BootState | null = null;
  /** Where the agent is (health gate, check, reboot…); reported as `activity` and `health`. */
  private phase: AgentPhase = 'starting';
  private nextCheck: string | null = null;
  /** The release the last check found but whose rollout has not reached this host yet. */
  private wave: WaveWait | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly listeners: ((status: AgentStatus) => void)[] = [];
  /** The health gate's work, which run() waits for; the phase says whether it is running. */
  private healthGate: Promise<void> = Promise.resolve();
  /** During a trial boot: the place this host rebooted under, kept alive until the gate releases it. */
  private keeper: PlaceKeeper | null = null;

  constructor(deps: AgentCoreDeps) {
    this.deps = deps;
    const { slot, version } = deps.booted;
    // Read only in phases that a known slot leads to; the placeholder is never used for a write.
    this.booted = { slot: slot.known ? slot.slot : 'USR-A', version };
  }

  /** The refusal for anything that would change the host while the running slot is unknown. */
  private refuseIfSlotUnknown(): void {
    if (!this.deps.booted.slot.known) throw this.deps.booted.slot.error;
  }

  onChange(listener: (status: AgentStatus) => void): void {
    this.listeners.push(listener);
  }

  status(): AgentStatus {
    if (this.phase === 'starting' || this.record === null || this.boot === null) {
      throw new AgentError('ERR_AGENT_NOT_STARTED', 'the agent has not started: its state record and boot flags are not read yet');
    }
    const { activity, health } = reportedPhase(this.phase);
    return buildStatus({
      record: this.record,
      activity,
      booted: { slot: this.deps.booted.slot.known ? this.booted.slot : null, version: this.deps.booted.version },
      bootedUnknown: this.deps.booted.slot.known ? null : { code: this.deps.booted.slot.error.code, message: this.deps.booted.slot.error.message },
      slots: this.boot.slots,
      next: this.boot.next,
      health,
      strategy: this.deps.strategy,
      nextCheck: this.nextCheck,
      nextWindow: this.deps.nextWindow(),
      wave: this.wave,
    });
  }

  /** The status with the fleet lock looked up now; an unreachable lock backend is reported, not thrown. */
  async report(): Promise<StatusReport> {
    const lock = await this.deps.lockView().catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
    const firstBoot = await this.deps.firstBootPending();
    const staged = this.record?.status === 'updated-need-reboot' ? (this.record.target?.version ?? null) : null;
    const breaker = this.deps.fleet === null ? breakerOff(this.deps.strategy) : await this.deps.fleet.view([staged]);
    return { ...this.status(), lock, firstBoot, rebootHooks: this.deps.hookRuns(), lastGate: this.deps.lastGate(), breaker, verity: await this.deps.verity() };
  }

  private changed(): void {
    const status = this.status();
    for (const listener of this.listeners) listener(status);
  }

  private async step(event: UpdateEvent): Promise<void> {
    this.record = advance(this.record ?? (await this.deps.records.load()).record, event);
    await this.deps.records.save(this.record);
  }

  /** The only way the phase changes; listeners are told by the caller, once its step is done. */
  private move(event: AgentPhaseEvent): void {
    this.phase = nextPhase(this.phase, event);
  }

  /** Runs `work` after every earlier request has finished: one change to the host at a time. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads the persisted record and the boot flags, settles what the last boot means, and starts the health gate if this slot is on trial. */
  async start(): Promise<void> {
    const { deps } = this;
    const loaded = await deps.records.load();
    if (loaded.warning) deps.log({}, loaded.warning);
    // Both copies of the record lost: the running version is still a floor (saved by the booted step).
    this.record = loaded.floorLost && deps.booted.slot.known ? rebuildFloor(loaded.record, { slot: deps.booted.slot.slot, version: deps.booted.version }) : loaded.record;
    this.boot = await deps.chooser.read();
    if (!deps.booted.slot.known) {
      // No guess: the boot flags cannot say which slot runs (after a rollback the best-ranked good
      // slot is the one NOT running), and writing the running slot would destroy the OS in use.
      deps.log({ code: deps.booted.slot.error.code }, `${deps.booted.slot.error.message}; no update or slot change until the agent is restarted with a fact that names it`);
      this.move('booted-slot-unknown');
      this.changed();
      return;
    }
    const booted = this.booted;
    await this.step({ type: 'booted', slot: booted.slot, version: booted.version });
    const staged = this.record.target;
    let bootFailed: AttemptOutcome | null = null;
    if (this.record.status === 'updated-need-reboot' && staged !== null && staged.slot !== this.booted.slot) {
      const flags = this.boot.slots.find((s) => s.name === staged.slot);
      // Armed (or, in a record from before arming was recorded, still ranked) with no tries left and
      // never marked good: GRUB spent them all. A grubenv slot that used up its tries ranks 0, like an
      // unarmed one; only the record tells the two apart.
      if (flags && (staged.armed === true || flags.priority > 0) && flags.tries === 0 && !flags.successful) {
        // GRUB used up the staged slot's tries and fell back here: that release never came up.
        deps.log({ version: staged.version, slot: staged.slot }, `${staged.version} did not boot (its boot tries were used up); skipping it`);
        await this.step({ type: 'boot-failed', reason: 'did not boot: its boot tries were used up', at: deps.clock.now().toISOString() });
        this.boot = await deps.chooser.markUnbootable(staged.slot as SlotName);
        bootFailed = { version: staged.version, from: booted.version, result: 'boot-failed', reason: 'its boot tries were used up' };
      }
    }
    const bootedFlags = this.boot.slots.find((s) => s.name === this.booted.slot);
    if (bootedFlags && !bootedFlags.successful) {
      this.move('trial-boot');
      this.keeper = deps.keepPlace();
      this.healthGate = this.exclusive(() => this.confirmBoot());
    } else {
      this.move('confirmed-boot');
      deps.measureBaseline();
      if (this.record.status === 'updated-need-reboot' && deps.strategy !== 'off') {
        // A place left from before (a cut after it was taken) is the one this reboot needs: the acquire
        // finds it held. Releasing it here instead would race that acquire, and a release landing
        // after it would free the place this host is about to reboot under.
        this.startStagedReboot(AUTOMATIC);
      } else {
        // A confirmed boot may still hold the lock from the reboot that brought it here. Giving it back
        // retries until the backend answers, in the background: an unreachable etcd must not stop the
        // agent. A failed boot is recorded first, so the next host to take the place finds it.
        void this.recordOutcome(bootFailed).then(() => this.release()).catch((error: unknown) => deps.log({ err: error }, 'could not release the reboot lock'));
      }
    }
    this.changed();
  }

  /** Writes an outcome to the fleet store (with an etcd lock); a failure to write is the fleet agent's to log and retry. */
  private async recordOutcome(outcome: AttemptOutcome | null): Promise<void> {
    if (outcome !== null) await this.deps.fleet?.recordOutcome(outcome);
  }

  /** A staged release halted fleet-wide is unstaged: its slot cannot boot, the running (good) slot boots next, nothing is charged. Its reason, or null. */
  private async unstageIfHalted(target: { readonly version: string; readonly slot: string }): Promise<string | null> {
    const halt = (await this.deps.fleet?.admit(target.version)) ?? null;
    if (halt === null) return null;
    const reason = haltReason(halt);
    this.boot = await this.deps.chooser.markUnbootable(target.slot as SlotName);
    await this.step({ type: 'unstaged', reason, at: this.deps.clock.now().toISOString() });
    this.deps.log({ version: target.version, slot: target.slot, by: halt.by }, `unstaged ${target.version}: ${reason}`);
    this.changed();
    return reason;
  }

  private async release(): Promise<void> {
    const released = await this.deps.releaseLock();
    if (released === 'released') this.deps.log({}, 'released the reboot lock');
  }

  private async confirmBoot(): Promise<void> {
    const { deps } = this;
    const health = await deps.health(this.record?.slotVersions[otherSlot(this.booted.slot)] ?? null);
    if (health.healthy) {
      this.boot = await deps.chooser.markGood(this.booted.slot);
      this.move('gate-passed');
      deps.log({ slot: this.booted.slot, version: this.booted.version }, `${this.booted.version} passed its health gate; ${this.booted.slot} marked good`);
      // Before the place is given back: the next host drains only once this one serves again, and
      // its breaker counts this host's success.
      await deps.afterHealthy();
      await this.recordOutcome(trialOutcome(this.booted, this.record, 'succeeded', null));
      this.keeper?.stop();
      this.keeper = null;
      await this.release();
      this.changed();
      return;
    }
    this.move('gate-failed');
    this.changed();
    // Before the reboot back: the place is given back after it, and the next host's breaker counts this failure.
    await this.recordOutcome(trialOutcome(this.booted, this.record, 'gate-failed', health.reason));
    const back = otherSlot(this.booted.slot);
    if (this.boot?.slots.find((s) => s.name === back)?.successful !== true) {
      // Both slots bad: the chooser refuses to go back to a slot never marked good, and a reboot would
      // only boot this one again until its tries ran out (then nothing). It stays bootable and running,
      // skipped, and the place in the reboot lock is kept, so the fleet stops here until someone looks.
      const reason = `failed its health gate: ${health.reason}; ${back} is not a good slot to go back to, so ${this.booted.version} stays running without a reboot`;
      deps.log({ slot: this.booted.slot, version: this.booted.version, other: back, reason: health.reason }, `${this.booted.version} ${reason}; the reboot lock stays held`);
      await this.step({ type: 'skip', version: this.booted.version, reason, charged: true });
      this.move('rollback-impossible');
      this.changed();
      return;
    }
    deps.log({ slot: this.booted.slot, version: this.booted.version, reason: health.reason }, `${this.booted.version} failed its health gate (${health.reason}); rolling back`);
    await this.step({ type: 'skip', version: this.booted.version, reason: `failed its health gate: ${health.reason}`, charged: true });
    this.boot = await deps.chooser.rollback(this.booted.slot);
    this.boot = await deps.chooser.markUnbootable(this.booted.slot);
    this.changed();
    // The lock taken before rebooting into this slot is still ours: rebooting back needs no new place.
    this.startReboot(this.record?.slotVersions[otherSlot(this.booted.slot)] ?? 'previous', { now: true, ignoreInhibitors: false });
  }

  /**
   * Reboots into the staged update: its slot is armed (next boot, N tries) only once the lock is held,
   * and only if an update is still staged then (a pin may have unstaged it while the lock was awaited).
   */
  private startStagedReboot(options: RebootOptions): void {
    const target = this.record?.target;
    if (target === null || target === undefined) return;
    this.startReboot(target.version, options, {
      arm: () =>
        this.exclusive(async () => {
          const staged = this.record?.status === 'updated-need-reboot' ? this.record.target : null;
          if (staged === null || staged === undefined) throw new RebootCancelled(`${target.version} is no longer staged`);
          // Fail-closed: a breaker that cannot be read cancels this reboot (the place is given back);
          // the next check asks again.
          const halted = await this.unstageIfHalted(staged).catch((e: unknown) => Promise.reject(new RebootCancelled(`${causeChain(e)}; the reboot into ${staged.version} waits for the next check`)));
          if (halted !== null) throw new RebootCancelled(halted);
          // Boot flags first, then the record: a cut between the two leaves an armed slot the record calls
          // unarmed, which is armed again; the other order could read as a failed boot.
          this.boot = await this.deps.chooser.stage(staged.slot as SlotName, this.deps.tries);
          await this.step({ type: 'armed' });
          this.deps.log({ version: staged.version, slot: staged.slot }, `armed ${staged.slot} (${staged.version}) for the next boot`);
          this.changed();
        }),
      // The place was lost before the reboot call: the running (good) slot boots next again. The slot
      // keeps its tries and the record stays armed, so neither reads as a failed boot after a cut.
      disarm: () =>
        this.exclusive(async () => {
          this.boot = await this.deps.chooser.rollback(target.slot as SlotName);
          this.changed();
        }),
    });
  }

  /** Starts a reboot under the lock in the background, unless one is already under way (that one goes on). */
  private startReboot(version: string, options: RebootOptions, arming?: Arming): void {
    if (rebootPending(this.phase)) return;
    this.move('reboot-requested');
    this.changed();
    // A phase error here is a bug in the agent: it is left unhandled, so the process stops and
    // systemd starts it again, rather than going on in a phase it cannot leave.
    void this.deps.rebootUnderLock(version, options, arming).then(
      (outcome) => {
        this.move(outcome.kind === 'rebooting' ? 'reboot-started' : 'reboot-abandoned');
        this.changed();
      },
      (error: unknown) => {
        if (error instanceof RebootCancelled) {
          this.deps.log({ reason: error.message }, 'reboot cancelled');
          // The lock may have been taken for a reboot that is no longer owed.
          void this.release().catch((releaseError: unknown) => this.deps.log({ err: releaseError }, 'could not release the reboot lock'));
        } else {
          this.deps.log({ err: error }, 'could not reboot');
        }
        this.move('reboot-abandoned');
        this.changed();
      },
    );
  }

  /**
   * Checks once now; a staged update then reboots per strategy (inside a window) unless `now` asks for
   * it at once. `now` is an operator's word for this host: it also takes a release its rollout has not reached yet.
   */
  check(options: { rebootNow: boolean; ignoreInhibitors?: boolean } = { rebootNow: false }): Promise<UpdateOutcome> {
    return this.exclusive(async () => {
      this.refuseIfSlotUnknown();
      if (reportedPhase(this.phase).health !== 'confirmed') throw new UpdateError('ERR_NOT_CONFIRMED', `this boot (${this.booted.version}) has not passed its health gate yet; no update until it does`);
      this.move('check-started');
      this.changed();
      const charged = this.record?.failures ?? {};
      let outcome: UpdateOutcome;
      try {
        const staged = this.record?.status === 'updated-need-reboot' ? this.record.target : null;
        // A halt that came while the reboot waits: unstaged now, not only when the place comes.
        const halted = staged === null ? null : await this.unstageIfHalted(staged);
        if (halted !== null) return { result: 'up-to-date', version: this.booted.version, reason: halted };
        outcome = await this.deps.updateOnce((record) => {
          this.record = record;
          this.changed();
        }, options.rebootNow);
        this.wave = outcome.result === 'waiting' ? { version: outcome.version, until: outcome.until, position: outcome.position, wave: outcome.wave, waves: outcome.waves } : null;
      } finally {
        // The check is over even if reading back what it changed fails: the next one may start.
        this.move('check-finished');
        // The pass changed the record and the boot flags, whether it succeeded or not.
        this.record = (await this.deps.records.load()).record;
        this.boot = await this.deps.chooser.read();
        this.changed();
        for (const failed of chargedOutcomes(charged, this.record, this.booted.version)) void this.recordOutcome(failed);
      }
      if (outcome.result === 'staged' && (options.rebootNow || this.deps.strategy !== 'off')) this.startStagedReboot({ now: options.rebootNow, ignoreInhibitors: options.ignoreInhibitors === true });
      return outcome;
    });
  }

  plan(): Promise<PlanDecision> {
    const { slot } = this.deps.booted;
    if (!slot.known) return Promise.resolve({ action: 'refused', version: null, reason: slot.error.message, code: slot.error.code });
    return this.deps.plan();
  }

  /** Pins (null: unpins); pinning another version than the staged one unstages it and makes its slot unbootable. */
  pin(version: string | null): Promise<AgentStatus> {
    return this.exclusive(async () => {
      const before = this.record ?? (await this.deps.records.load()).record;
      // The record's rule says whether the pin unstages: the staged target is gone after it.
      const unstaged = advance(before, { type: 'pin', version }).target === null ? before.target : null;
      // Boot flags first: a cut before the record is written leaves a staged update whose slot cannot
      // boot (skipped at the next start if it was armed); the other order could boot a release the
      // record no longer wants.
      if (unstaged !== null && (!this.deps.booted.slot.known || unstaged.slot !== this.booted.slot)) this.boot = await this.deps.chooser.markUnbootable(unstaged.slot as SlotName);
      await this.step({ type: 'pin', version });
      this.deps.log({ version }, version === null ? 'unpinned' : unstaged !== null ? `pinned to ${version}; ${unstaged.version} is unstaged` : `pinned to ${version}`);
      this.changed();
      return this.status();
    });
  }

  /** Gives a skipped version another chance: off the skipped list, its failure count back to 0. */
  unskip(version: string): Promise<AgentStatus> {
    return this.exclusive(async () => {
      const record = this.record ?? (await this.deps.records.load()).record;
      if (!record.skipped.some((s) => s.version === version)) {
        const skipped = record.skipped.map((s) => s.version);
        throw new UpdateError('ERR_NOT_SKIPPED', `${version} is not skipped (skipped: ${skipped.length === 0 ? 'none' : skipped.join(', ')})`);
      }
      await this.step({ type: 'unskip', version });
      this.deps.log({ version }, `unskipped ${version}: the next check may install it again`);
      this.changed();
      return this.status();
    });
  }

  /** Makes the other slot (which must have booted successfully) the next boot, and skips the version rolled back from. */
  rollback(reboot: boolean, ignoreInhibitors = false): Promise<AgentStatus> {
    return this.exclusive(async () => {
      this.refuseIfSlotUnknown();
      const { booted } = this;
      this.boot = await this.deps.chooser.rollback(booted.slot);
      await this.step({ type: 'skip', version: booted.version, reason: 'rolled back by an operator' });
      const to = this.record?.slotVersions[otherSlot(booted.slot)] ?? 'the previous version';
      this.deps.log({ from: booted.version, to }, `rolling back from ${booted.version} to ${to}`);
      this.changed();
      if (reboot) this.startReboot(to, { now: true, ignoreInhibitors });
      return this.status();
    });
  }

  /** Reboots into a staged update now (under the fleet lock, ignoring windows); false when nothing is staged. */
  rebootIfNeeded(ignoreInhibitors = false): Promise<boolean> {
    return this.exclusive(() => {
      this.refuseIfSlotUnknown();
      if (this.record?.status !== 'updated-need-reboot' || this.record.target === null) return Promise.resolve(false);
      this.startStagedReboot({ now: true, ignoreInhibitors });
      return Promise.resolve(true);
    });
  }

  /** The periodic checks, after the health gate: never returns. */
  async run(): Promise<never> {
    await this.healthGate;
    let history: CheckHistory = { kind: 'started' };
    let failures = 0;
    for (;;) {
      // Back no later than the moment a waiting release's rollout reaches this host.
      const delay = checkByWave(nextCheckDelay(history, this.deps.schedule, this.deps.random), this.wave?.until ?? null, this.deps.clock.now().getTime());
      const checks = this.deps.checks && this.phase !== 'slot-unknown';
      this.nextCheck = checks ? new Date(this.deps.clock.now().getTime() + delay).toISOString() : null;
      this.changed();
      await this.deps.clock.sleep(delay);
      if (!checks) continue;
      try {
        await this.check();
        failures = 0;
        history = { kind: 'succeeded' };
      } catch (error) {
        failures++;
        history = { kind: 'failed', consecutiveFailures: failures };
        // Every failed check backs off; only a release's own fault was charged to it (release-fault.ts).
        const code = errorCode(error);
        const fault = faultKind(code);
        this.deps.log({ err: error, code, fault }, fault === 'transport' ? 'update check failed (transport fault: not charged to the release; backing off)' : 'update check failed');
      }
    }
  }
}
