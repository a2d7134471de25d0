// Errors of the command line itself (bad usage), and how any error becomes a message and an
// exit code: the cause chain is printed, never a stack trace.

import { CodedError } from '../../platform/coded-error.ts';

export class UsageError extends CodedError<'ERR_USAGE'> {
  override name = 'UsageError';

  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** Documented exit codes (docs/cli.md). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  diskLayout: 3,
  deviceIo: 4,
  refused: 5,
  untrusted: 6,
  network: 7,
  lockFull: 8,
  lockCorrupt: 9,
  denied: 10,
  agentUnreachable: 11,
  bootedSlotUnknown: 12,
  notSkipped: 13,
} as const;

const EXIT_BY_CODE: Record<string, number> = {
  ERR_USAGE: EXIT.usage,
  ERR_ROLLOUT_INVALID: EXIT.usage,
  ERR_FORMAT_INVALID: EXIT.usage,
  ERR_NOT_GPT: EXIT.diskLayout,
  ERR_GPT_CORRUPT: EXIT.diskLayout,
  ERR_GPT_TRUNCATED: EXIT.diskLayout,
  ERR_SLOTS_MISSING: EXIT.diskLayout,
  ERR_SLOTS_AMBIGUOUS: EXIT.diskLayout,
  ERR_GRUBENV_INVALID: EXIT.diskLayout,
  ERR_CHOOSER_INVALID: EXIT.usage,
  ERR_DEVICE_IO: EXIT.deviceIo,
  ERR_ROLLBACK_TARGET_NOT_GOOD: EXIT.refused,
  ERR_BOOTED_SLOT_UNKNOWN: EXIT.bootedSlotUnknown,
  ERR_BOOTED_SLOT_CONFLICT: EXIT.bootedSlotUnknown,
  ERR_SLOT_BOOTED: EXIT.refused,
  ERR_KEYRING_MISSING: EXIT.untrusted,
  ERR_KEYRING_EMPTY: EXIT.untrusted,
  ERR_KEYRING_INVALID: EXIT.untrusted,
  ERR_UNSAFE_PERMISSIONS: EXIT.untrusted,
  ERR_SIGNATURE_INVALID: EXIT.untrusted,
  ERR_SIGNATURE_UNKNOWN_KEY: EXIT.untrusted,
  ERR_SIGNATURE_KEY_EXPIRED: EXIT.untrusted,
  ERR_SIGNATURE_KEY_REVOKED: EXIT.untrusted,
  ERR_SIGNATURE_WEAK_HASH: EXIT.untrusted,
  ERR_MANIFEST_INVALID: EXIT.untrusted,
  ERR_MANIFEST_EXPIRED: EXIT.refused,
  ERR_MANIFEST_FROM_FUTURE: EXIT.refused,
  ERR_MANIFEST_WRONG_CHANNEL: EXIT.refused,
  ERR_MANIFEST_WRONG_ARCH: EXIT.refused,
  ERR_DOWNGRADE_REFUSED: EXIT.refused,
  ERR_NOT_CONFIRMED: EXIT.refused,
  ERR_ACCESS_DENIED: EXIT.denied,
  ERR_CALLER_NOT_ROOT: EXIT.denied,
  ERR_CALLER_UNKNOWN: EXIT.denied,
  ERR_CONFIG_INVALID: EXIT.usage,
  ERR_AGENT_UNREACHABLE: EXIT.agentUnreachable,
  ERR_CLOCK_BEHIND: EXIT.refused,
  ERR_MACHINE_ID_MISSING: EXIT.refused,
  ERR_HTTP: EXIT.network,
  ERR_HTTP_TOO_LARGE: EXIT.network,
  ERR_HTTP_REDIRECT_REFUSED: EXIT.network,
  ERR_HTTP_TIMEOUT: EXIT.network,
  ERR_TRANSFER_TOO_SLOW: EXIT.network,
  ERR_DATASOURCE: EXIT.failure,
  ERR_DATASOURCE_UNAVAILABLE: EXIT.failure,
  ERR_USER_DATA_TOO_LARGE: EXIT.failure,
  ERR_CLOUD_CONFIG_INVALID: EXIT.failure,
  ERR_CLOUD_CONFIG_APPLY: EXIT.failure,
  ERR_SYSTEM_BUS_UNREACHABLE: EXIT.agentUnreachable,
  ERR_PAYLOAD_TOO_LARGE: EXIT.untrusted,
  ERR_PAYLOAD_SIZE_MISMATCH: EXIT.untrusted,
  ERR_PAYLOAD_HASH_MISMATCH: EXIT.untrusted,
  ERR_PAYLOAD_CORRUPT: EXIT.untrusted,
  ERR_VERITY_INVALID: EXIT.untrusted,
  ERR_VERITY_MISMATCH: EXIT.untrusted,
  ERR_NOT_SKIPPED: EXIT.notSkipped,
  ERR_SLOT_TOO_SMALL: EXIT.diskLayout,
  ERR_SLOT_VERIFY_FAILED: EXIT.deviceIo,
  ERR_LOCK_CORRUPT: EXIT.lockCorrupt,
  ERR_LOCK_INVALID_MAX: EXIT.usage,
  ERR_LOCK_CONFIG_INVALID: EXIT.usage,
  ERR_LOCK_UNAVAILABLE: EXIT.network,
  ERR_LOCK_DENIED: EXIT.denied,
  ERR_LOCK_CONTENDED: EXIT.lockFull,
  ERR_WINDOW_INVALID: EXIT.usage,
  ERR_FLEET_CORRUPT: EXIT.lockCorrupt,
  ERR_FLEET_CONTENDED: EXIT.lockFull,
};

function codeOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

export function exitCodeFor(error: unknown): number {
  const code = codeOf(error);
  return (code === undefined ? undefined : EXIT_BY_CODE[code]) ?? EXIT.failure;
}

/** "slipway: <message> [CODE]" followed by one "  caused by: …" line per cause. */
export function describeError(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const message = current instanceof Error ? current.message : typeof current === 'string' ? current : JSON.stringify(current);
    const code = codeOf(current);
    const text = code ? `${message} [${code}]` : message;
    lines.push(depth === 0 ? `slipway: ${text}` : `  caused by: ${text}`);
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines.join('\n');
}
