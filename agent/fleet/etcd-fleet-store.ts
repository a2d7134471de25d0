// The fleet store in etcd, beside the reboot lock of the host's group (locksmith never reads these
// keys): fleet/outcomes/<version>/<machine id> on a lease, so the keyspace forgets old attempts by
// itself; fleet/halted/<version>, written under a compare so two agents tripping the breaker at
// once, or an operator's resume racing one, leave one record; fleet/hosts/<machine id>, each host's
// last report, without a lease (a host that went quiet must still show, as quiet).

import { goQueryEscape } from '../lock/go-query-escape.ts';
import { semaphoreKey } from '../lock/etcd-lock-backend.ts';
import { FleetError } from './fleet-errors.ts';
import type { EtcdGatewayClient } from '../lock/etcd-gateway-client.ts';
import type { FleetStore, HaltRecord, HostReport, UpdateOutcome } from './fleet-store.ts';

export interface EtcdFleetStoreOptions {
  readonly group: string;
  /** How long an outcome is kept (its lease). */
  readonly outcomeTtlSeconds: number;
}

/** The fleet's keys for a lock group: beside its semaphore. */
export function fleetPrefix(group: string): string {
  return `${semaphoreKey(group).slice(0, -'semaphore'.length)}fleet/`;
}

export class EtcdFleetStore implements FleetStore {
  private readonly client: EtcdGatewayClient;
  private readonly prefix: string;
  private readonly ttl: number;

  constructor(client: EtcdGatewayClient, options: EtcdFleetStoreOptions) {
    this.client = client;
    this.prefix = fleetPrefix(options.group);
    this.ttl = options.outcomeTtlSeconds;
  }

  private outcomeKey(version: string, machineId: string): string {
    return `${this.prefix}outcomes/${goQueryEscape(version)}/${goQueryEscape(machineId)}`;
  }

  private haltKey(version: string): string {
    return `${this.prefix}halted/${goQueryEscape(version)}`;
  }

  async recordOutcome(outcome: UpdateOutcome): Promise<void> {
    const lease = await this.client.grantLease(this.ttl);
    await this.client.put(this.outcomeKey(outcome.version, outcome.machineId), JSON.stringify(outcome), lease);
  }

  async outcomes(version: string): Promise<readonly UpdateOutcome[]> {
    const { kvs } = await this.client.range(`${this.prefix}outcomes/${goQueryEscape(version)}/`, { prefix: true });
    return kvs.map((kv) => parseJson<UpdateOutcome>(kv.value, kv.key)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  async allOutcomes(): Promise<readonly UpdateOutcome[]> {
    const { kvs } = await this.client.range(`${this.prefix}outcomes/`, { prefix: true });
    return kvs.map((kv) => parseJson<UpdateOutcome>(kv.value, kv.key)).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }

  async halts(): Promise<readonly HaltRecord[]> {
    const { kvs } = await this.client.range(`${this.prefix}halted/`, { prefix: true });
    return kvs.map((kv) => parseJson<HaltRecord>(kv.value, kv.key));
  }

  async recordHost(report: HostReport): Promise<void> {
    await this.client.put(`${this.prefix}hosts/${goQueryEscape(report.machineId)}`, JSON.stringify(report));
  }

  async hosts(): Promise<readonly HostReport[]> {
    const { kvs } = await this.client.range(`${this.prefix}hosts/`, { prefix: true });
    // A report of the wrong shape (another agent version, a hand edit) sorts by what its host reads as, rather than failing every reader.
    return kvs.map((kv) => parseJson<HostReport>(kv.value, kv.key)).sort((a, b) => String(a.host).localeCompare(String(b.host)));
  }

  async halt(version: string): Promise<HaltRecord | null> {
    const kv = await this.client.get(this.haltKey(version));
    return kv === null ? null : parseJson<HaltRecord>(kv.value, kv.key);
  }

  async setHalt(record: HaltRecord): Promise<HaltRecord> {
    const key = this.haltKey(record.version);
    for (let round = 0; round < 10; round++) {
      const kv = await this.client.get(key);
      const current = kv === null ? null : parseJson<HaltRecord>(kv.value, key);
      if (current !== null && current.state === record.state) return current;
      const compare = kv === null ? { key, target: 'version' as const, equals: '0' } : { key, target: 'mod' as const, equals: kv.modRevision };
      const { succeeded } = await this.client.txn([compare], [{ put: key, value: JSON.stringify(record) }]);
      if (succeeded) return record;
    }
    throw new FleetError('ERR_FLEET_CONTENDED', `the halt record of ${record.version} changed under every attempt to set it`);
  }
}

function parseJson<T>(value: string, key: string): T {
  try {
    return JSON.parse(value) as T;
  } catch (cause) {
    throw new FleetError('ERR_FLEET_CORRUPT', `${key} in etcd is not JSON`, { cause });
  }
}
