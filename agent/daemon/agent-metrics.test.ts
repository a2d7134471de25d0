// The metrics endpoint over real loopback HTTP: versions, state, last check, failures counted once
// per error, lock wait; and 404 off /metrics.

import { afterEach, describe, expect, it } from 'vitest';
import { AgentMetrics, metricsUrl, serveMetrics } from './agent-metrics.ts';
import { idleStatus } from '../../test/builders/agent-status.ts';
import type { Server } from 'node:http';
import type { AgentStatus } from './agent-status.ts';
import type { GateVerdict } from '../health/gate-verdict.ts';

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

  it('serves each critical unit and probe of the health gate with its verdict, and only the last run', async () => {
    const metrics = new AgentMetrics();
    const unit = { source: 'workload', activeState: 'active', subState: 'running', result: 'success', restarts: 0, verdict: 'ok', reason: 'active (running)' } as const;
    const gate = (units: GateVerdict['units'], probes: GateVerdict['probes']): GateVerdict => ({ kind: 'gate', version: '1.0.1', baselineVersion: '1.0.0', healthy: false, reason: 'x', startedAt: '', finishedAt: '', target: 'active', units, probes });
    metrics.observeGate(gate([{ ...unit, name: 'old.service' }], []));
    metrics.observeGate(
      gate(
        [
          { ...unit, name: 'app.service', activeState: 'activating', subState: 'auto-restart', restarts: 4, verdict: 'failed', reason: 'crash-looping: auto-restart, 4 restarts' },
          { ...unit, name: 'legacy.service', verdict: 'pre-existing', restarts: null },
        ],
        [{ name: 'api', kind: 'http', verdict: 'ok', reason: 'HTTP 200', attempts: 1 }],
      ),
    );
    server = await serveMetrics(metrics, '127.0.0.1:0');
    const lines = (await (await fetch(metricsUrl(server))).text()).split('\n');
    for (const line of [
      'slipway_health_check{kind="unit",name="app.service",verdict="failed"} 1',
      'slipway_health_check{kind="unit",name="legacy.service",verdict="pre-existing"} 1',
      'slipway_health_check{kind="probe",name="api",verdict="ok"} 1',
      'slipway_health_unit_restarts{unit="app.service"} 4',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.filter((l) => l.includes('old.service'))).toEqual([]);
  });
});
