// The base of every domain's error class: a stable machine-readable code beside the message, and
// the cause chain kept, so the CLI can map codes to exit codes and print what led to the failure.

export class CodedError<Code extends string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
