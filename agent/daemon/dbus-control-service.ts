// The agent's control interface on the system bus (dbus-next): org.slipway.Agent1 at
// /org/slipway/Agent1. Status as properties and a JSON document, a StatusChanged signal on every
// change, and the operator's methods. Only root changes anything, anyone reads: the D-Bus policy says
// so (images/dbus/org.slipway.Agent1.conf), and every method that changes something checks its
// caller's uid itself as well (dbus-caller.ts), so a missing or loosened policy opens nothing.

import { AgentError } from './agent-errors.ts';
import { CallerTracker, requireRoot } from './dbus-caller.ts';
import dbus from 'dbus-next';
import { causeChain } from '../../platform/coded-error.ts';
import type { MessageBus } from 'dbus-next';
import type { AgentCore } from './agent-core.ts';
import type { AgentStatus } from './agent-status.ts';
import { BUS_NAME, ERROR_PREFIX, INTERFACE, OBJECT_PATH } from './agent1-names.ts';

/** A failure as a D-Bus error whose name carries the stable code, so the CLI can map it to an exit code. */
function asDbusError(error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  const message = causeChain(error);
  return new dbus.DBusError(`${ERROR_PREFIX}${typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : 'ERR_AGENT'}`, message);
}

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asDbusError(error);
  }
}

/** What the service needs of the agent: its status and the operator's requests. */
export type ControlledCore = Pick<AgentCore, 'onChange' | 'status' | 'report' | 'check' | 'plan' | 'pin' | 'unskip' | 'rollback' | 'rebootIfNeeded'>;

class Agent1 extends dbus.interface.Interface {
  private readonly core: ControlledCore;
  private readonly bus: MessageBus;
  private readonly callers: CallerTracker;
  private current: AgentStatus;

  constructor(core: ControlledCore, bus: MessageBus) {
    super(INTERFACE);
    this.core = core;
    this.bus = bus;
    this.callers = new CallerTracker(bus, OBJECT_PATH);
    this.current = core.status();
    core.onChange((status) => {
      this.current = status;
      this.StatusChanged(JSON.stringify(status));
      dbus.interface.Interface.emitPropertiesChanged(this, { State: status.state, Activity: status.activity, BytesDone: BigInt(status.progress?.bytesDone ?? 0) }, []);
    });
  }

  get State(): string {
    return this.current.state;
  }

  get Activity(): string {
    return this.current.activity;
  }

  get BytesDone(): bigint {
    return BigInt(this.current.progress?.bytesDone ?? 0);
  }

  get TotalBytes(): bigint {
    return BigInt(this.current.progress?.totalBytes ?? 0);
  }

  get BootedVersion(): string {
    return this.current.booted.version;
  }

  get BootedSlot(): string {
    return this.current.booted.slot;
  }

  get SlotVersions(): Record<string, string> {
    return Object.fromEntries(this.current.slots.map((s) => [s.name, s.version ?? '']));
  }

  get PinnedVersion(): string {
    return this.current.pinned ?? '';
  }

  get Health(): string {
    return this.current.health;
  }

  get LastCheck(): string {
    return this.current.lastCheck?.at ?? '';
  }

  get NextCheck(): string {
    return this.current.nextCheck ?? '';
  }

  get NextWindow(): string {
    return this.current.nextWindow ?? '';
  }

  async GetStatus(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.report()));
  }

  /**
   * A method that changes something: runs `work` only for root. The sender is taken now, in the
   * method's first synchronous step (see CallerTracker); each such method must call this first.
   */
  private changing<T>(member: string, work: () => Promise<T>): Promise<T> {
    const sender = this.callers.take(INTERFACE, member);
    return guarded(async () => {
      await requireRoot(this.bus, sender, member);
      return work();
    });
  }

  async CheckForUpdate(): Promise<string> {
    return this.changing('CheckForUpdate', async () => JSON.stringify(await this.core.check()));
  }

  async ApplyUpdate(ignoreInhibitors: boolean): Promise<string> {
    return this.changing('ApplyUpdate', async () => JSON.stringify(await this.core.check({ rebootNow: true, ignoreInhibitors })));
  }

  async Plan(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.plan()));
  }

  async Pin(version: string): Promise<string> {
    return this.changing('Pin', async () => JSON.stringify(await this.core.pin(version)));
  }

  async Unpin(): Promise<string> {
    return this.changing('Unpin', async () => JSON.stringify(await this.core.pin(null)));
  }

  async Unskip(version: string): Promise<string> {
    return this.changing('Unskip', async () => JSON.stringify(await this.core.unskip(version)));
  }

  async Rollback(reboot: boolean, ignoreInhibitors: boolean): Promise<string> {
    return this.changing('Rollback', async () => JSON.stringify(await this.core.rollback(reboot, ignoreInhibitors)));
  }

  async RebootIfNeeded(ignoreInhibitors: boolean): Promise<boolean> {
    return this.changing('RebootIfNeeded', () => this.core.rebootIfNeeded(ignoreInhibitors));
  }

  StatusChanged(status: string): string {
    return status;
  }
}

Agent1.configureMembers({
  properties: {
    State: { signature: 's', access: 'read' },
    Activity: { signature: 's', access: 'read' },
    BytesDone: { signature: 't', access: 'read' },
    TotalBytes: { signature: 't', access: 'read' },
    BootedVersion: { signature: 's', access: 'read' },
    BootedSlot: { signature: 's', access: 'read' },
    SlotVersions: { signature: 'a{ss}', access: 'read' },
    PinnedVersion: { signature: 's', access: 'read' },
    Health: { signature: 's', access: 'read' },
    LastCheck: { signature: 's', access: 'read' },
    NextCheck: { signature: 's', access: 'read' },
    NextWindow: { signature: 's', access: 'read' },
  },
  methods: {
    GetStatus: { outSignature: 's' },
    CheckForUpdate: { outSignature: 's' },
    ApplyUpdate: { inSignature: 'b', outSignature: 's' },
    Plan: { outSignature: 's' },
    Pin: { inSignature: 's', outSignature: 's' },
    Unpin: { outSignature: 's' },
    Unskip: { inSignature: 's', outSignature: 's' },
    Rollback: { inSignature: 'bb', outSignature: 's' },
    RebootIfNeeded: { inSignature: 'b', outSignature: 'b' },
  },
  signals: { StatusChanged: { signature: 's' } },
});

/** Exports the core on `bus` and takes the well-known name (refused if another agent has it). */
export async function exportControlService(bus: MessageBus, core: ControlledCore): Promise<void> {
  bus.export(OBJECT_PATH, new Agent1(core, bus));
  const reply = await bus.requestName(BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new AgentError('ERR_BUS_NAME_TAKEN', `another process owns ${BUS_NAME} on this bus; is slipway already running?`);
}
