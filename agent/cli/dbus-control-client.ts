// ControlClient adapter on the agent's D-Bus interface: calls org.slipway.Agent1 and turns D-Bus
// errors back into coded errors (the agent's code, access denied, agent not running).

import { BUS_NAME, ERROR_PREFIX, INTERFACE, OBJECT_PATH } from '../daemon/agent1-names.ts';
import { ControlError } from './control-client.ts';
import type { ClientInterface, MessageBus } from 'dbus-next';
import type { AgentStatus, StatusReport } from '../daemon/agent-status.ts';
import type { ControlClient } from './control-client.ts';
import type { PlanDecision, UpdateOutcome } from '../update/run-update-once.ts';

type Agent1 = ClientInterface & Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;

function asControlError(error: unknown): Error {
  const errno = (error as { code?: unknown }).code;
  if (errno === 'ENOENT' || errno === 'ECONNREFUSED' || errno === 'EACCES') {
    return new ControlError('ERR_AGENT_UNREACHABLE', `cannot connect to the system bus (${(error as Error).message}); is dbus running?`, { cause: error });
  }
  const type = (error as { type?: unknown }).type;
  const text = (error as { text?: unknown }).text;
  const message = typeof text === 'string' ? text : error instanceof Error ? error.message : String(error);
  if (typeof type !== 'string') return new ControlError('ERR_AGENT', message, { cause: error });
  if (type.startsWith(ERROR_PREFIX)) {
    const code = type.slice(ERROR_PREFIX.length);
    return new ControlError(code, code === 'ERR_CALLER_NOT_ROOT' ? `${message}; run it with sudo` : message);
  }
  if (type === 'org.freedesktop.DBus.Error.AccessDenied') {
    return new ControlError('ERR_ACCESS_DENIED', `only root may ask the agent to do that (${message}); run it with sudo`);
  }
  if (type === 'org.freedesktop.DBus.Error.ServiceUnknown' || type === 'org.freedesktop.DBus.Error.NameHasNoOwner') {
    return new ControlError('ERR_AGENT_UNREACHABLE', `the slipway agent is not running (${BUS_NAME} is not on the system bus); see systemctl status slipway`);
  }
  return new ControlError('ERR_AGENT', `${type}: ${message}`);
}

export class DbusControlClient implements ControlClient {
  private readonly bus: MessageBus;
  private agent: Promise<Agent1> | null = null;

  private busFailure: Promise<never>;

  constructor(bus: MessageBus) {
    this.bus = bus;
    // dbus-next reports a failed connection as an event, not as a rejected call.
    this.busFailure = new Promise((_resolve, reject) => bus.on('error', (error: unknown) => reject(asControlError(error))));
    this.busFailure.catch(() => undefined);
  }

  private connect(): Promise<Agent1> {
    const proxy = this.bus.getProxyObject(BUS_NAME, OBJECT_PATH).then((object) => object.getInterface(INTERFACE) as Agent1, (error: unknown) => Promise.reject(asControlError(error)));
    this.agent ??= Promise.race([proxy, this.busFailure]);
    return this.agent;
  }

  private async call(method: string, ...args: unknown[]): Promise<unknown> {
    const agent = await this.connect();
    const fn = agent[method];
    if (typeof fn !== 'function') throw new ControlError('ERR_AGENT', `the running agent has no ${method} method; is it an older version?`);
    try {
      return await fn.apply(agent, args);
    } catch (error) {
      throw asControlError(error);
    }
  }

  private async json<T>(method: string, ...args: unknown[]): Promise<T> {
    return JSON.parse(String(await this.call(method, ...args))) as T;
  }

  status(): Promise<StatusReport> {
    return this.json('GetStatus');
  }

  check(): Promise<UpdateOutcome> {
    return this.json('CheckForUpdate');
  }

  apply(ignoreInhibitors: boolean): Promise<UpdateOutcome> {
    return this.json('ApplyUpdate', ignoreInhibitors);
  }

  plan(): Promise<PlanDecision> {
    return this.json('Plan');
  }

  pin(version: string): Promise<AgentStatus> {
    return this.json('Pin', version);
  }

  unpin(): Promise<AgentStatus> {
    return this.json('Unpin');
  }

  unskip(version: string): Promise<AgentStatus> {
    return this.json('Unskip', version);
  }

  rollback(reboot: boolean, ignoreInhibitors: boolean): Promise<AgentStatus> {
    return this.json('Rollback', reboot, ignoreInhibitors);
  }

  async onStatus(listener: (status: AgentStatus) => void): Promise<void> {
    const agent = await this.connect();
    agent.on('StatusChanged', (json: string) => listener(JSON.parse(json) as AgentStatus));
    // A round trip after adding the match rule: no signal sent after this call returns is missed.
    await this.call('GetStatus');
  }

  close(): void {
    this.bus.disconnect();
  }
}
