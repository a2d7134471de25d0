// Errors of the fleet store and the rollout controls, with codes the CLI maps to exit codes.

import { CodedError } from '../../platform/coded-error.ts';

export type FleetErrorCode = 'ERR_FLEET_CORRUPT' | 'ERR_FLEET_CONTENDED' | 'ERR_FLEET_UNREACHABLE' | 'ERR_RELEASE_HALTED';

export class FleetError extends CodedError<FleetErrorCode> {
  constructor(code: FleetErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'FleetError';
  }
}
