// RebootLock adapter for the FleetLock protocol (Zincati <-> airlock): POST /v1/pre-reboot to take
// a place and /v1/steady-state to give it back, with the fleet-lock-protocol header and the
// client's id and group. Any answer but 200, or garbage, means "not locked": never reboot on doubt.

import got, { RequestError } from 'got';
import { LockError } from './lock-errors.ts';
import type { AcquireResult, HolderRecord, RebootLock } from './lock-backend.ts';

export interface FleetLockSettings {
  readonly baseUrl: string;
  readonly group: string;
  readonly timeoutMs: number;
}

const GROUP = /^[a-zA-Z0-9.-]+$/;

export class FleetLockClient implements RebootLock {
  private readonly settings: FleetLockSettings;

  constructor(settings: FleetLockSettings) {
    if (!GROUP.test(settings.group)) throw new LockError('ERR_LOCK_CONFIG_INVALID', `FleetLock group "${settings.group}" must match ${GROUP.source}`);
    this.settings = settings;
  }

  /** 200 from pre-reboot is a place (FleetLock locks are recursive per id, so "already held" looks the same). */
  async acquire(record: HolderRecord): Promise<AcquireResult> {
    const answer = await this.post('pre-reboot', record.id);
    if (answer.ok) return { kind: 'acquired', reclaimed: [] };
    return { kind: 'full', holders: [], reason: answer.reason };
  }

  /** Throws unless the server confirms, so the caller retries until it does. */
  async release(id: string): Promise<'released' | 'not-held'> {
    const answer = await this.post('steady-state', id);
    if (!answer.ok) throw new LockError('ERR_LOCK_UNCONFIRMED', `FleetLock server did not confirm the unlock of ${id}: ${answer.reason}`);
    return 'released';
  }

  private async post(operation: 'pre-reboot' | 'steady-state', id: string): Promise<{ ok: true } | { ok: false; reason: string }> {
    const url = `${this.settings.baseUrl.replace(/\/+$/, '')}/v1/${operation}`;
    try {
      const response = await got.post(url, {
        headers: { 'fleet-lock-protocol': 'true' },
        json: { client_params: { id, group: this.settings.group } },
        throwHttpErrors: false,
        followRedirect: false,
        retry: { limit: 0 },
        timeout: { request: this.settings.timeoutMs },
      });
      if (response.statusCode === 200) return { ok: true };
      return { ok: false, reason: `${url} answered ${response.statusCode}${describeFleetLockError(response.body)}` };
    } catch (error) {
      const what = error instanceof RequestError ? error.message : String(error);
      return { ok: false, reason: `${url} failed: ${what}` };
    }
  }
}

/** FleetLock errors are JSON {"kind":…,"value":…}; anything else is shown as garbage. */
function describeFleetLockError(body: string): string {
  try {
    const parsed = JSON.parse(body) as { kind?: unknown; value?: unknown };
    if (typeof parsed.kind === 'string') return ` (${parsed.kind}: ${typeof parsed.value === 'string' ? parsed.value : JSON.stringify(parsed.value)})`;
  } catch {
    // fall through: not JSON
  }
  return ` (unreadable body: ${JSON.stringify(body.slice(0, 60))})`;
}
