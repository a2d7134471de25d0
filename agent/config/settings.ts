// The agent's settings once configuration fragments are merged and validated: frozen, complete
// (every default filled in), in the agent's own words. agent/config/load-settings.ts builds them.

import { DEFAULT_ETCD_CONNECTION } from '../lock/etcd-connection.ts';
import { DEFAULT_RATE_FLOOR } from '../update-io/rate-floor.ts';
import type { EtcdConnection } from '../lock/etcd-connection.ts';
import type { RebootStrategy } from '../lock/reboot-coordinator.ts';
import type { ConfiguredProbe } from '../health/health-ports.ts';

export interface WindowSetting {
  /** locksmith's window_start: "Thu 04:00" or "04:00" (every day). */
  readonly start: string;
  /** Go duration: "1h30m". */
  readonly length: string;
}

export interface Settings {
  readonly update: {
    /** Release channel base URLs (mirrors), tried in order. */
    readonly servers: readonly string[];
    readonly channel: string;
    readonly arch: string;
    readonly board: string;
    /** OpenPGP public keys that may sign releases. */
    readonly keyring: string;
    /** update-state.json and its floor copy update-floor.json live here. */
    readonly stateDir: string;
    /** Periodic checks on (false: only when an operator asks). */
    readonly checks: boolean;
    readonly firstCheckSeconds: number;
    readonly intervalSeconds: number;
    /** Boot tries given to a freshly staged slot. */
    readonly tries: number;
    /** A payload transfer slower than this (bytes per second) over any `rateWindowSeconds` fails; 0: no floor. */
    readonly minRateBytesPerSecond: number;
    readonly rateWindowSeconds: number;
    /** How far a signed time may be ahead of this host's clock, and the clock behind the newest signed time seen. */
    readonly maxClockSkewSeconds: number;
  };
  readonly slots: {
    /** The disk holding USR-A/USR-B; null: found from /proc/cmdline. */
    readonly disk: string | null;
    readonly chooser: 'gptprio' | 'grubenv';
    /** The GRUB environment block: the grubenv chooser's flags, and with either chooser each slot's dm-verity root hash (docs/verity.md). */
    readonly grubenv: string | null;
  };
  readonly reboot: {
    readonly strategy: RebootStrategy;
    readonly timeZone: string;
    /** Empty: any time. */
    readonly windows: readonly WindowSetting[];
    /** How long a held place waits for logind's block inhibitors before it is given back (and asked for later). */
    readonly inhibitorWaitSeconds: number;
    /** Units started, in order, holding the place and before the slot is armed (drain); one that fails postpones the reboot. */
    readonly before: readonly string[];
    /** Units started, in order, after the new boot passed its health gate and before the place is given back. */
    readonly afterHealthy: readonly string[];
    /** How long each hook unit may take before it is stopped and counted failed. */
    readonly hookTimeoutSeconds: number;
  };
  readonly lock: {
    readonly group: string;
    /** The connection, and `leaseSeconds`: how long a holder keeps its place once it stops renewing it (long enough to cover a reboot). */
    readonly etcd: EtcdConnection & { readonly leaseSeconds: number };
    /** FleetLock server base URL (strategy fleet-lock). */
    readonly fleetLockUrl: string | null;
  };
  readonly health: {
    /** How long after boot the new slot has to reach a healthy state. */
    readonly timeoutSeconds: number;
    /** How long every critical unit must stay healthy, without a restart, before the gate passes. */
    readonly settleSeconds: number;
    /** Units the operator wants healthy (beyond multi-user.target being reached). */
    readonly criticalUnits: readonly string[];
    /** The host's workloads: units cloud-config enabled (its fragment sets them); critical too. */
    readonly workloadUnits: readonly string[];
    /** Checks that must pass within the settled window, each retried until the deadline. */
    readonly probes: readonly ConfiguredProbe[];
  };
  readonly cloudConfig: {
    /** How long first boot's `cloud-config apply` keeps retrying a datasource that fails before it gives up (without the stamp, so the next boot tries again). */
    readonly datasourceWaitSeconds: number;
  };
  readonly metrics: {
    /** "127.0.0.1:9527"; null: no metrics endpoint. */
    readonly listen: string | null;
  };
  /** The rollout's shared memory in etcd (reboot strategy etcd-lock only): outcomes, the circuit breaker, host reports. */
  readonly fleet: {
    /** Failures of a release (on distinct hosts) before the breaker halts it fleet-wide… */
    readonly breakerFailures: number;
    /** …and the share of the hosts that tried it which failed, both needed. */
    readonly breakerFraction: number;
    /** How long etcd keeps each host's outcome of an update (its lease). */
    readonly outcomeTtlSeconds: number;
    /** How often a host reports where it stands even when nothing changed, so a quiet host shows. */
    readonly reportIntervalSeconds: number;
  };
}

export const DEFAULT_SETTINGS: Settings = {
  update: {
    servers: [],
    channel: 'stable',
    arch: 'x86_64',
    board: 'generic',
    keyring: '/usr/lib/slipway/release-keys.asc',
    stateDir: '/var/lib/slipway',
    checks: true,
    firstCheckSeconds: 300,
    intervalSeconds: 3600,
    tries: 3,
    minRateBytesPerSecond: DEFAULT_RATE_FLOOR.minRateBytesPerSecond,
    rateWindowSeconds: DEFAULT_RATE_FLOOR.rateWindowMs / 1000,
    maxClockSkewSeconds: 86_400,
  },
  slots: { disk: null, chooser: 'grubenv', grubenv: null },
  reboot: { strategy: 'etcd-lock', timeZone: 'UTC', windows: [], inhibitorWaitSeconds: 600, before: [], afterHealthy: [], hookTimeoutSeconds: 600 },
  lock: {
    group: '',
    etcd: { ...DEFAULT_ETCD_CONNECTION, leaseSeconds: 600 },
    fleetLockUrl: null,
  },
  health: { timeoutSeconds: 300, settleSeconds: 30, criticalUnits: [], workloadUnits: [], probes: [] },
  // coreos-cloudinit's datasource timeout.
  cloudConfig: { datasourceWaitSeconds: 300 },
  metrics: { listen: '127.0.0.1:9527' },
  // Three hosts are more than one bad disk or power cut; one host in five is more than background noise
  // on a large fleet. Seven days covers a rollout in waves over a week; a tripped halt outlives them.
  fleet: { breakerFailures: 3, breakerFraction: 0.2, outcomeTtlSeconds: 7 * 86_400, reportIntervalSeconds: 300 },
};
