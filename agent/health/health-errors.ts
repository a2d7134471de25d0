// Error classes of the health gate's room: a stable code for each failure and the cause chain kept.

import { CodedError } from '../../platform/coded-error.ts';

export type HealthErrorCode =
  /** health-baseline.json or health-gate.json could not be written to the state directory. */
  'ERR_HEALTH_STATE_WRITE';

export class HealthError extends CodedError<HealthErrorCode> {
  override name = 'HealthError';
}
