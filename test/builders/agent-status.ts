// An agent's status for tests that need one: booted 1.0.0 from USR-A, idle and confirmed, nothing
// staged, pinned or skipped, with the fields a test cares about laid over it.

import type { AgentStatus } from '../../agent/daemon/agent-status.ts';
import type { BreakerView } from '../../agent/fleet/fleet-agent.ts';

/** The breaker as status shows it without an etcd lock. */
export const BREAKER_OFF: BreakerView = { state: 'off', reason: 'reboot strategy reboot keeps no fleet store in etcd' };

export function idleStatus(overrides: Partial<AgentStatus> = {}): AgentStatus {
  return {
    state: 'idle',
    activity: 'idle',
    progress: null,
    booted: { slot: 'USR-A', version: '1.0.0' },
    bootedUnknown: null,
    slots: [],
    target: null,
    pinned: null,
    skipped: [],
    lastCheck: null,
    lastError: null,
    health: 'confirmed',
    strategy: 'etcd-lock',
    nextCheck: null,
    nextWindow: null,
    wave: null,
    ...overrides,
  };
}
