// The error of a manifest that does not parse or breaks the format, or whose payload.url points
// outside the channel: the agent treats it as untrusted input, even when it is signed.

import { CodedError } from '../platform/coded-error.ts';

export class ManifestError extends CodedError<'ERR_MANIFEST_INVALID'> {
  override name = 'ManifestError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MANIFEST_INVALID', message, options);
  }
}
