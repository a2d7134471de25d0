// Who is calling the agent over D-Bus: the sender of the method call being served, and its uid as the
// bus daemon reports it (org.freedesktop.DBus.GetConnectionUnixUser). The control service checks it
// itself for every method that changes something, so a missing or loosened policy file does not open
// the agent to every local user; any doubt about the caller refuses the call.

import dbus from 'dbus-next';
import { AgentError } from './agent-errors.ts';
import type { Message, MessageBus } from 'dbus-next';

/**
 * The method call under way on one object path. dbus-next passes a method only its arguments, but it
 * emits each incoming message on the bus object right before it dispatches it, synchronously: a
 * method that takes the sender in its first, synchronous step gets its own call's. take() checks the
 * member too, so if that order ever changed, the caller would be unknown (refused), never another's.
 */
export class CallerTracker {
  private current: Message | null = null;

  constructor(bus: MessageBus, path: string) {
    bus.on('message', (message) => {
      if (message.type === dbus.MessageType.METHOD_CALL && message.path === path) this.current = message;
    });
  }

  /** The unique bus name that sent the call to `iface`.`member` being dispatched now, or null. */
  take(iface: string, member: string): string | null {
    const message = this.current;
    this.current = null;
    if (message === null || message.interface !== iface || message.member !== member) return null;
    return typeof message.sender === 'string' && message.sender !== '' ? message.sender : null;
  }
}

/** The uid the bus daemon knows `sender` by; rejects with ERR_CALLER_UNKNOWN when it cannot say. */
export async function callerUid(bus: MessageBus, sender: string): Promise<number> {
  let reply: Message | null;
  try {
    reply = await bus.call(
      new dbus.Message({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'GetConnectionUnixUser', signature: 's', body: [sender] }),
    );
  } catch (cause) {
    throw new AgentError('ERR_CALLER_UNKNOWN', `cannot tell which user ${sender} is: the bus did not answer GetConnectionUnixUser`, { cause: dbusCause(cause) });
  }
  const uid: unknown = reply?.body[0];
  if (typeof uid !== 'number' || !Number.isInteger(uid) || uid < 0) throw new AgentError('ERR_CALLER_UNKNOWN', `cannot tell which user ${sender} is: the bus answered ${JSON.stringify(reply?.body ?? null)}`);
  return uid;
}

/** Resolves when the sender of `member` (taken by the caller, see CallerTracker) is root; else the coded refusal. */
export async function requireRoot(bus: MessageBus, sender: string | null, member: string): Promise<void> {
  if (sender === null) throw new AgentError('ERR_CALLER_UNKNOWN', `cannot tell who called ${member}, so it is refused`);
  const uid = await callerUid(bus, sender);
  if (uid !== 0) throw new AgentError('ERR_CALLER_NOT_ROOT', `only root may ask the agent to ${member}: the caller ${sender} runs as uid ${uid}`);
}

/** dbus-next's DBusError keeps its name and text apart; as a cause, both in the message. */
function dbusCause(error: unknown): unknown {
  const { type, text } = error as { type?: unknown; text?: unknown };
  return typeof type === 'string' ? new Error(`${type}: ${typeof text === 'string' ? text : ''}`) : error;
}
