// The error of GRUB's formats: an environment block or a grub.cfg setting that cannot be read or written.

import { CodedError } from '../coded-error.ts';

export class GrubenvError extends CodedError<'ERR_GRUBENV_INVALID'> {
  override name = 'GrubenvError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_GRUBENV_INVALID', message, options);
  }
}
