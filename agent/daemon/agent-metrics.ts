// Prometheus metrics of the agent (prom-client, on a registry of its own, never the global one):
// booted and available version, update state, last check time and result, failures by kind, how
// long reboots waited for the fleet lock, and the health of each critical unit and probe; served on a
// local HTTP endpoint.

import { causeChain } from '../../platform/coded-error.ts';
import { createServer } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { UPDATE_STATUSES } from '../update/update-state.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentStatus } from './agent-status.ts';
import type { GateVerdict } from '../health/gate-verdict.ts';

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly booted = new Gauge({ name: 'slipway_booted_version_info', help: 'The running OS version and slot (value 1).', labelNames: ['version', 'slot'], registers: [this.registry] });
  private readonly available = new Gauge({ name: 'slipway_available_version_info', help: 'The version staged or being installed (value 1); absent when none.', labelNames: ['version'], registers: [this.registry] });
  private readonly state = new Gauge({ name: 'slipway_update_state', help: 'The update state machine state (1 for the current one).', labelNames: ['state'], registers: [this.registry] });
  private readonly lastCheck = new Gauge({ name: 'slipway_last_check_timestamp_seconds', help: 'When the last update check finished.', registers: [this.registry] });
  private readonly lastCheckOk = new Gauge({ name: 'slipway_last_check_success', help: '1 if the last update check succeeded, 0 if it failed.', registers: [this.registry] });
  private readonly failures = new Counter({ name: 'slipway_update_failures_total', help: 'Failed update attempts by error code.', labelNames: ['code'], registers: [this.registry] });
  private readonly bytes = new Gauge({ name: 'slipway_download_bytes', help: 'Bytes of the current download written so far.', registers: [this.registry] });
  private readonly lockWait = new Histogram({
    name: 'slipway_reboot_lock_wait_seconds',
    help: 'How long a staged update waited for the fleet reboot lock (and window).',
    buckets: [1, 10, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600],
    registers: [this.registry],
  });
  private readonly healthCheck = new Gauge({
    name: 'slipway_health_check',
    help: 'Each critical unit and probe of the last health gate or baseline run, 1 for its verdict (ok, pending, failed, pre-existing).',
    labelNames: ['kind', 'name', 'verdict'],
    registers: [this.registry],
  });
  private readonly unitRestarts = new Gauge({ name: 'slipway_health_unit_restarts', help: 'NRestarts of each critical service when the health gate last looked.', labelNames: ['unit'], registers: [this.registry] });
  private lastErrorSeen: string | null = null;

  /** Updates every gauge from a status; counts a failure once per new lastError. */
  observe(status: AgentStatus): void {
    this.booted.reset();
    this.booted.set({ version: status.booted.version, slot: status.booted.slot ?? 'unknown' }, 1);
    this.available.reset();
    if (status.target) this.available.set({ version: status.target.version }, 1);
    for (const state of UPDATE_STATUSES) this.state.set({ state }, state === status.state ? 1 : 0);
    if (status.lastCheck) {
      this.lastCheck.set(Date.parse(status.lastCheck.at) / 1000);
      this.lastCheckOk.set(status.lastCheck.result.startsWith('error') ? 0 : 1);
    }
    const errorKey = status.lastError && status.lastCheck ? `${status.lastCheck.at} ${status.lastError.code}` : null;
    if (status.lastError && errorKey !== null && errorKey !== this.lastErrorSeen) this.failures.inc({ code: status.lastError.code });
    this.lastErrorSeen = errorKey;
    this.bytes.set(status.progress?.bytesDone ?? 0);
  }

  /** The health gate's (or baseline's) view: one series per unit and probe, labelled with its verdict. */
  observeGate(verdict: GateVerdict): void {
    this.healthCheck.reset();
    this.unitRestarts.reset();
    for (const unit of verdict.units) {
      this.healthCheck.set({ kind: 'unit', name: unit.name, verdict: unit.verdict }, 1);
      if (unit.restarts !== null) this.unitRestarts.set({ unit: unit.name }, unit.restarts);
    }
    for (const probe of verdict.probes) this.healthCheck.set({ kind: 'probe', name: probe.name, verdict: probe.verdict }, 1);
  }

  observeLockWait(seconds: number): void {
    this.lockWait.observe(seconds);
  }
}

/** Serves GET /metrics on `listen` ("127.0.0.1:9527"); resolves with the server once it listens. */
export async function serveMetrics(metrics: AgentMetrics, listen: string): Promise<Server> {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(colon + 1));
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404).end('not found; try /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500).end(causeChain(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

export function metricsUrl(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}/metrics`;
}
