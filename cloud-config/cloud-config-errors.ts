// Errors of reading and applying cloud-config, with stable codes the CLI maps to exit codes.

import { CodedError } from '../platform/coded-error.ts';

export type CloudConfigErrorCode =
  /** A datasource is present but its user-data cannot be read. */
  | 'ERR_DATASOURCE'
  /** No datasource gave user-data and at least one present failed (after its bounded retries): nothing applied, no first-boot stamp. */
  | 'ERR_DATASOURCE_UNAVAILABLE'
  | 'ERR_USER_DATA_TOO_LARGE'
  /** A host tool (blkid, mtools, xorriso, useradd) could not be started or flooded its output. */
  | 'ERR_TOOL'
  /** The system bus (systemd, hostnamed) cannot be reached: nothing was applied. */
  | 'ERR_SYSTEM_BUS_UNREACHABLE'
  /** The document has errors (or fails the checks against the host): nothing was applied. */
  | 'ERR_CLOUD_CONFIG_INVALID'
  /** Some steps of an apply failed; the others were done. */
  | 'ERR_CLOUD_CONFIG_APPLY';

export class CloudConfigError extends CodedError<CloudConfigErrorCode> {
  constructor(code: CloudConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'CloudConfigError';
  }
}
