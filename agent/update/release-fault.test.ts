// Which failures are charged to a release: only its own faults, content only after a second fetch.

import { describe, expect, it } from 'vitest';
import { chargedToRelease, faultKind } from './release-fault.ts';

describe('release faults', () => {
  it('never charges transport faults or the host\'s own problems', () => {
    for (const code of ['ERR_HTTP', 'ERR_HTTP_TIMEOUT', 'ERR_HTTP_TOO_LARGE', 'ERR_HTTP_REDIRECT_REFUSED']) {
      expect(faultKind(code)).toBe('transport');
      expect(chargedToRelease(code, 2)).toBe(false);
    }
    for (const code of ['ERR_KEYRING_EMPTY', 'ERR_SIGNATURE_UNKNOWN_KEY', 'ERR_CLOCK_BEHIND', 'ERR_MANIFEST_FROM_FUTURE', 'ERR_STATE_INVALID', 'ERR_SLOT_VERIFY_FAILED', 'ERR_STATE_WRITE', 'ERR_UNKNOWN']) {
      expect(faultKind(code)).toBe('host');
      expect(chargedToRelease(code, 2)).toBe(false);
    }
  });

  it('charges a bad signature and an oversized payload at once', () => {
    for (const code of ['ERR_SIGNATURE_INVALID', 'ERR_PAYLOAD_TOO_LARGE']) expect(chargedToRelease(code, 1)).toBe(true);
  });

  it('charges corrupt or mismatching content only once it came twice', () => {
    for (const code of ['ERR_PAYLOAD_CORRUPT', 'ERR_PAYLOAD_HASH_MISMATCH', 'ERR_PAYLOAD_SIZE_MISMATCH']) {
      expect(faultKind(code)).toBe('suspect-content');
      expect(chargedToRelease(code, 1)).toBe(false);
      expect(chargedToRelease(code, 2)).toBe(true);
    }
  });
});
