// Error classes of the systemd and logind adapters: a stable code for each failure, the cause kept.

import { CodedError } from '../../platform/coded-error.ts';

export type SystemdErrorCode =
  /** The service manager on the bus lacks a method slipway calls (a too old or a foreign one). */
  | 'ERR_SYSTEMD_API'
  /** A unit's properties could not be read (LoadUnit or Properties.GetAll failed or answered something else). */
  | 'ERR_SYSTEMD_UNIT_STATE';

export class SystemdError extends CodedError<SystemdErrorCode> {
  override name = 'SystemdError';
}
