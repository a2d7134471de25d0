// A broken invariant: a bug in slipway, never a user's mistake or a fault of the host. Thrown where
// the code believes a case cannot happen, so it fails loudly and coded instead of going on.

import { CodedError } from './coded-error.ts';

export class InternalError extends CodedError<'ERR_INTERNAL'> {
  override name = 'InternalError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_INTERNAL', message, options);
  }
}
