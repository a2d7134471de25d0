// The base of every domain's error class: a stable machine-readable code beside the message, and
// the cause chain kept, so the CLI can map codes to exit codes and print what led to the failure.

export class CodedError<Code extends string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The stable code of a slipway error; anything else (a library's or Node's error) is ERR_UNKNOWN. */
export function errorCode(error: unknown): string {
  return error instanceof CodedError ? (error as CodedError<string>).code : 'ERR_UNKNOWN';
}

/** "message: cause: …" on one line, for logs and D-Bus error texts. */
export function causeChain(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const parts = [error.message];
  for (let cause = error.cause; cause instanceof Error; cause = cause.cause) parts.push(cause.message);
  return parts.join(': ');
}
