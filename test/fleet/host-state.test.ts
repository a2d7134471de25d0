// What a host tells the fleet store about itself, from its status: where it runs, what it staged,
// and the release whose wave it waits for (the fleet view counts hosts waiting per version).

import { describe, expect, it } from 'vitest';
import { hostState } from '../../agent/wiring/host-state.ts';
import { idleStatus } from '../builders/agent-status.ts';

describe('hostState', () => {
  it('carries the release a host waits for and until when', () => {
    const wave = { version: '1.0.3', until: '2026-12-03T18:00:00.000Z', position: 0.7, wave: 2, waves: 3 };
    expect(hostState({ ...idleStatus(), wave })).toMatchObject({ staged: null, waitingForWave: { version: '1.0.3', until: '2026-12-03T18:00:00.000Z' } });
    expect(hostState({ ...idleStatus(), wave: null }).waitingForWave).toBeNull();
  });
});
