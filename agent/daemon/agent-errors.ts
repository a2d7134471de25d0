// Error classes of the agent daemon itself: a stable code for each failure and the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type AgentErrorCode =
  /** Another process owns org.slipway.Agent1: a second agent must not run beside the first. */
  'ERR_BUS_NAME_TAKEN';

export class AgentError extends CodedError<AgentErrorCode> {
  override name = 'AgentError';
}
