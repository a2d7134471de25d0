// The agent's control interface on the system bus (dbus-next): org.slipway.Agent1 at
// /org/slipway/Agent1. Status as properties and a JSON document, a StatusChanged signal on every
// change, and the operator's methods. Who may call what is the D-Bus policy's job
// (images/dbus/org.slipway.Agent1.conf: only root changes anything, anyone reads).

import { AgentError } from './agent-errors.ts';
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

class Agent1 extends dbus.interface.Interface {
  private readonly core: AgentCore;
  private current: AgentStatus;

  constructor(core: AgentCore) {
    super(INTERFACE);
    this.core = core;
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

  /** Empty while no fact says which slot is running. */
  get BootedSlot(): string {
    return this.current.booted.slot ?? '';
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

  async CheckForUpdate(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.check()));
  }

  async ApplyUpdate(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.check({ rebootNow: true })));
  }

  async Plan(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.plan()));
  }

  async Pin(version: string): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.pin(version)));
  }

  async Unpin(): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.pin(null)));
  }

  async Rollback(reboot: boolean): Promise<string> {
    return guarded(async () => JSON.stringify(await this.core.rollback(reboot)));
  }

  async RebootIfNeeded(): Promise<boolean> {
    return guarded(() => this.core.rebootIfNeeded());
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
    ApplyUpdate: { outSignature: 's' },
    Plan: { outSignature: 's' },
    Pin: { inSignature: 's', outSignature: 's' },
    Unpin: { outSignature: 's' },
    Rollback: { inSignature: 'b', outSignature: 's' },
    RebootIfNeeded: { outSignature: 'b' },
  },
  signals: { StatusChanged: { signature: 's' } },
});

/** Exports the core on `bus` and takes the well-known name (refused if another agent has it). */
export async function exportControlService(bus: MessageBus, core: AgentCore): Promise<void> {
  bus.export(OBJECT_PATH, new Agent1(core));
  const reply = await bus.requestName(BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new AgentError('ERR_BUS_NAME_TAKEN', `another process owns ${BUS_NAME} on this bus; is slipway already running?`);
}
