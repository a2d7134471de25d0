// An etcd client for the benchmarks that counts each request it sends by kind (what it does, to which
// of the group's keys: the lock's semaphore, queue and holders, or the fleet store's reports, outcomes, halts).

import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import type { EtcdCompare, EtcdOperation, EtcdWatchEvent } from '../../agent/lock/etcd-gateway-wire.ts';

/** The client the hosts share, counting each request it sends by kind (what it does, to which of the group's keys). */
export class CountingClient extends EtcdGatewayClient {
  readonly counts = new Map<string, number>();
  private count(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }
  private static what(key: string): string {
    if (key.includes('/fleet/')) return key.includes('/fleet/hosts/') ? 'host report' : key.includes('/fleet/outcomes/') ? 'outcome' : key.includes('/fleet/halted/') ? 'halt' : 'fleet';
    return key.endsWith('/semaphore') ? 'semaphore' : key.includes('/queue/') ? 'queue' : key.includes('/holders/') ? (key.endsWith('/') ? 'holders' : 'holder') : 'other';
  }
  override range(key: string, options: Parameters<EtcdGatewayClient['range']>[1] = {}): ReturnType<EtcdGatewayClient['range']> {
    this.count(`read ${CountingClient.what(key)}`);
    return super.range(key, options);
  }
  override put(key: string, value: string, lease?: string): Promise<void> {
    this.count(`put ${CountingClient.what(key)}`);
    return super.put(key, value, lease);
  }
  override delete(key: string): Promise<void> {
    this.count(`delete ${CountingClient.what(key)}`);
    return super.delete(key);
  }
  override txn(compares: readonly EtcdCompare[], success: readonly EtcdOperation[], failure: readonly EtcdOperation[] = []): ReturnType<EtcdGatewayClient['txn']> {
    this.count(`txn on ${CountingClient.what(compares[0]?.key ?? '')}${success.some((op) => 'range' in op) ? ' + read group' : ''}`);
    return super.txn(compares, success, failure);
  }
  override grantLease(ttlSeconds: number): Promise<string> {
    this.count('lease grant');
    return super.grantLease(ttlSeconds);
  }
  override keepAliveLease(id: string): Promise<number> {
    this.count('lease keep-alive');
    return super.keepAliveLease(id);
  }
  override revokeLease(id: string): Promise<void> {
    this.count('lease revoke');
    return super.revokeLease(id);
  }
  // watch() and nextChange() open theirs through this.
  override watchBatches(key: string, options: Parameters<EtcdGatewayClient['watch']>[1] = {}): AsyncGenerator<readonly EtcdWatchEvent[], void, undefined> {
    this.count(`watch ${options.end === undefined ? CountingClient.what(key) : 'group'}`);
    return super.watchBatches(key, options);
  }
  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}


/** Requests that write: puts, deletes, transactions, lease grants. */
export function isWrite(kind: string): boolean {
  return /^(put|delete|txn|lease grant)/.test(kind);
}
