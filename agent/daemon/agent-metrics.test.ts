// The metrics endpoint over real loopback HTTP: versions, state, last check, failures counted once
// per error, lock wait; and 404 off /metrics.

import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics, metricsUrl, serveMetrics } from './agent-metrics.ts';
import { idleStatus } from '../../test/builders/agent-status.ts';
import type { Server } from 'node:http';
import type { AgentStatus } from './agent-status.ts';

const BASE: AgentStatus = idleStatus({ lastCheck: { at: '2026-11-22T12:00:00.000Z', result: 'up to date' } });

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

describe('agent metrics', () => {
  it('serves what the agent observed', async () => {
    const metrics = new AgentMetrics();
    metrics.observe(BASE);
    const failed: AgentStatus = {
      ...BASE,
      state: 'downloading',
      target: { version: '1.0.1', slot: 'USR-B' },
      progress: { chunksDone: 1, bytesDone: 4096, totalBytes: 8192 },
      lastCheck: { at: '2026-11-22T13:00:00.000Z', result: 'error ERR_HTTP' },
      lastError: { code: 'ERR_HTTP', message: 'x' },
    };
    metrics.observe(failed);
    metrics.observe(failed);
    metrics.observeLockWait(42);
    server = await serveMetrics(metrics, '127.0.0.1:0');
    const response = await fetch(metricsUrl(server));
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const line of [
      'slipway_booted_version_info{version="1.0.0",slot="USR-A"} 1',
      'slipway_available_version_info{version="1.0.1"} 1',
      'slipway_update_state{state="downloading"} 1',
      'slipway_update_state{state="idle"} 0',
      `slipway_last_check_timestamp_seconds ${Date.parse('2026-11-22T13:00:00.000Z') / 1000}`,
      'slipway_last_check_success 0',
      'slipway_update_failures_total{code="ERR_HTTP"} 1',
      'slipway_download_bytes 4096',
      'slipway_reboot_lock_wait_seconds_sum 42',
      'slipway_reboot_lock_wait_seconds_count 1',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect((await fetch(metricsUrl(server).replace('/metrics', '/'))).status).toBe(404);
  });
});
