// The agent's status as the host report the fleet store keeps (agent/fleet/fleet-store.ts HostReport).

import type { AgentStatus } from '../daemon/agent-status.ts';
import type { HostState } from '../fleet/fleet-agent.ts';

export function hostState(status: AgentStatus): HostState {
  return {
    version: status.booted.version,
    slot: status.booted.slot ?? 'unknown',
    activity: status.activity,
    health: status.health,
    staged: status.state === 'updated-need-reboot' ? (status.target?.version ?? null) : null,
    waitingForWave: status.wave === null ? null : { version: status.wave.version, until: status.wave.until },
  };
}
