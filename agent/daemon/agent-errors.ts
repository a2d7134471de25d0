// Error classes of the agent daemon itself: a stable code for each failure and the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type AgentErrorCode =
  /** An event the phase table does not allow in the current phase: a bug in the agent. */
  | 'ERR_AGENT_PHASE'
  /** The status was asked for before start() had read the record and the boot flags. */
  | 'ERR_AGENT_NOT_STARTED'
  /** Another process owns org.slipway.Agent1: a second agent must not run beside the first. */
  | 'ERR_BUS_NAME_TAKEN'
  /** A method that changes something was called by a user other than root (the service checks, beside the D-Bus policy). */
  | 'ERR_CALLER_NOT_ROOT'
  /** The caller of such a method could not be told (no sender, or the bus would not say its uid): refused. */
  | 'ERR_CALLER_UNKNOWN';

export class AgentError extends CodedError<AgentErrorCode> {
  override name = 'AgentError';
}

/** A reboot given up once the lock was held, because the update it was for is no longer staged. */
export class RebootCancelled extends CodedError<'ERR_REBOOT_CANCELLED'> {
  override name = 'RebootCancelled';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REBOOT_CANCELLED', message, options);
  }
}
