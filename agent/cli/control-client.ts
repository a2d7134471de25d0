// The ControlClient port: how CLI commands reach the running agent (over D-Bus in production),
// and the error a refused or failed request comes back as.

import { CodedError } from '../../platform/coded-error.ts';
import type { AgentStatus, StatusReport } from '../daemon/agent-status.ts';
import type { PlanDecision, UpdateOutcome } from '../update/run-update-once.ts';

export interface ControlClient {
  status(): Promise<StatusReport>;
  check(): Promise<UpdateOutcome>;
  /** Check, stage and reboot now under the fleet lock; `ignoreInhibitors`: do not wait for logind's block inhibitors. */
  apply(ignoreInhibitors: boolean): Promise<UpdateOutcome>;
  plan(): Promise<PlanDecision>;
  pin(version: string): Promise<AgentStatus>;
  unpin(): Promise<AgentStatus>;
  /** Gives a skipped version another chance; ERR_NOT_SKIPPED if it is not skipped. */
  unskip(version: string): Promise<AgentStatus>;
  rollback(reboot: boolean, ignoreInhibitors: boolean): Promise<AgentStatus>;
  /** Called on every status change the agent signals, until closed. */
  onStatus(listener: (status: AgentStatus) => void): Promise<void>;
  close(): void;
}

/** The agent's own error code (ERR_DOWNGRADE_REFUSED …), ERR_ACCESS_DENIED, or ERR_AGENT_UNREACHABLE. */
export class ControlError extends CodedError<string> {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ControlError';
  }
}
