// A fleet on this machine, for the VM suites and the demo: OS images (cached base tree), a real etcd
// and a release server on loopback (10.0.2.2 from the guests), and VMs whose cloud-config (on a
// config-drive, or behind `cloud-config-url=` from an OEM disk) points their agent at both. It publishes releases, reads each host's agent status over its guest agent
// (busctl, cheap under TCG) and reads the reboot lock, now or every value it ever had, from etcd.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { EtcdGatewayClient } from '../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore } from '../agent/fleet/etcd-fleet-store.ts';
import { publishRelease } from '../images/publish-release.ts';
import { semaphoreKey } from '../agent/lock/etcd-lock-backend.ts';
import { parseSemaphore } from '../agent/lock/semaphore.ts';
import { startEtcd } from './etcd-server.ts';
import { buildLabImages } from './lab-images.ts';
import { startReleaseServer } from './release-server.ts';
import { REGISTRY, startLabRegistry } from './lab-registry.ts';
import { startUserDataServer } from './user-data-server.ts';
import { makeConfigDrive, makeOemDrive, Vm } from './vm.ts';
import type { StatusReport } from '../agent/daemon/agent-status.ts';
import type { Semaphore } from '../agent/lock/semaphore.ts';
import type { HaltRecord } from '../agent/fleet/fleet-store.ts';
import type { RolloutSchedule } from '../images/rollout-schedule.ts';
import type { EtcdServer } from './etcd-server.ts';
import type { LabImages, ReleaseSpec } from './lab-images.ts';
import type { ReleaseServer } from './release-server.ts';
import type { LabRegistry, LabWorkloadImage } from './lab-registry.ts';
import type { Timings } from './timings.ts';
import type { UserDataServer } from './user-data-server.ts';

/** The host's loopback as QEMU's user-mode network shows it to a guest. */
export const guestUrl = (url: string): string => url.replace('127.0.0.1', '10.0.2.2');

export interface LabUnit {
  readonly name: string;
  readonly content: string;
  readonly command?: 'start';
  readonly enable?: boolean;
}

/** A cloud-config user: a name, groups and SSH keys. */
export interface LabUser {
  readonly name: string;
  readonly groups?: readonly string[];
  readonly ssh_authorized_keys?: readonly string[];
}

/** A cloud-config write_files entry. */
export interface LabFile {
  readonly path: string;
  readonly permissions: string;
  readonly content: string;
}

export interface FleetLabOptions {
  readonly dir: string;
  readonly hosts: readonly string[];
  /** The version every host's disk starts with. */
  readonly first: string;
  readonly releases: readonly ReleaseSpec[];
  readonly channel?: string;
  /** The semaphore's size (locksmith's max); 1 if not given. */
  readonly maxHolders?: number;
  /** An /etc/slipway/config.d fragment for every host (first_check, critical units, …). */
  readonly agentSettings?: Readonly<Record<string, unknown>>;
  readonly units?: readonly LabUnit[];
  readonly users?: readonly LabUser[];
  readonly files?: readonly LabFile[];
  readonly memoryMiB?: number;
  readonly timings: Timings;
  /** A directory kept for the whole test run where labs share their key and the images they have in common. */
  readonly sharedImages?: string;
  /** Container images in a lab registry, trusted by every host's cloud-config; units name it as REGISTRY. */
  readonly workloadImages?: readonly LabWorkloadImage[];
  /**
   * Hosts find their cloud-config at a URL on the kernel command line (an OEM disk's grub.cfg) instead
   * of a config-drive; the lab's metadata service answers each host's first `failFirst` requests 503.
   */
  readonly cloudConfigUrl?: { readonly failFirst: number };
  /** The newest manifest format releases are published in (release publish --format): 3 for full downloads only, no chunk index. */
  readonly maxFormat?: number;
}

/** One value the semaphore had, at its etcd revision. */
export interface LockRevision {
  readonly revision: number;
  readonly semaphore: Semaphore;
}

/** The lock as one store revision left it: the semaphore and the ids waiting in line (queue keys). */
export interface LockView {
  readonly revision: number;
  readonly holders: readonly string[];
  readonly waiting: readonly string[];
}

/**
 * The cloud-config one host boots with: hostname, update server and channel, etcd lock, extras, and
 * with a lab registry its image trust and podman's permission to pull from it over plain http.
 */
export function labUserData(host: string, serverUrl: string, etcdUrl: string, options: Pick<FleetLabOptions, 'channel' | 'agentSettings' | 'units' | 'users' | 'files'>, registry: LabRegistry | null = null): string {
  const files: LabFile[] = [
    ...(options.agentSettings ? [{ path: '/etc/slipway/config.d/60-lab.yaml', permissions: '0644', content: stringify(options.agentSettings) }] : []),
    ...(registry ? [{ path: '/etc/containers/registries.conf.d/50-lab.conf', permissions: '0644', content: registry.insecureConf }] : []),
    ...(options.files ?? []),
  ];
  const units = options.units?.map((unit) => ({ ...unit, content: unit.content.replaceAll(REGISTRY, registry?.guestHost ?? REGISTRY) }));
  const config: Record<string, unknown> = {
    hostname: host,
    ...(options.users ? { users: options.users } : {}),
    ...(files.length > 0 ? { write_files: files } : {}),
    coreos: {
      update: { server: guestUrl(serverUrl), group: options.channel ?? 'stable', reboot_strategy: 'etcd-lock' },
      locksmith: { endpoint: guestUrl(etcdUrl) },
      ...(units ? { units } : {}),
    },
    ...(registry ? { slipway: { image_trust: [registry.trust] } } : {}),
  };
  return `#cloud-config\n${stringify(config)}`;
}

export class FleetLab {
  readonly images: LabImages;
  readonly etcd: EtcdServer;
  readonly server: ReleaseServer;
  readonly vms: ReadonlyMap<string, Vm>;
  /** The lab registry, when the options asked for workload images. */
  registry: LabRegistry | null = null;
  /** The lab's metadata service, when the options put cloud-config behind a URL. */
  userData: UserDataServer | null = null;
  private readonly options: FleetLabOptions;
  private readonly client: EtcdGatewayClient;

  private constructor(options: FleetLabOptions, images: LabImages, etcd: EtcdServer, server: ReleaseServer, vms: Map<string, Vm>) {
    this.options = options;
    this.images = images;
    this.etcd = etcd;
    this.server = server;
    this.vms = vms;
    this.client = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 10_000, now: () => Date.now() });
  }

  /** Builds the images, starts etcd and the release server, and creates (not starts) the VMs. */
  static async open(options: FleetLabOptions): Promise<FleetLab> {
    const { dir, timings } = options;
    await mkdir(join(dir, 'www'), { recursive: true });
    const images = await buildLabImages(dir, options.first, options.releases, timings, options.sharedImages ?? null);
    const etcd = await startEtcd();
    const server = await startReleaseServer(join(dir, 'www')).catch(async (error: unknown) => {
      await etcd.stop();
      throw error;
    });
    const vms = new Map<string, Vm>();
    const lab = new FleetLab(options, images, etcd, server, vms);
    try {
      if (options.maxHolders !== undefined && options.maxHolders !== 1) await lab.setMax(options.maxHolders);
      if (options.workloadImages !== undefined) lab.registry = await timings.time('registry and signed images', () => startLabRegistry(join(dir, 'registry'), options.workloadImages ?? []));
      const userData = new Map(options.hosts.map((host) => [host, labUserData(host, server.url, etcd.url, options, lab.registry)]));
      if (options.cloudConfigUrl !== undefined) lab.userData = await startUserDataServer(userData, options.cloudConfigUrl.failFirst);
      for (const host of options.hosts) {
        const drive = join(dir, `${host}.${lab.userData ? 'oem' : 'configdrive'}.img`);
        if (lab.userData) await makeOemDrive(drive, `cloud-config-url=${guestUrl(lab.userData.urlFor(host))}`);
        else await makeConfigDrive(drive, userData.get(host) ?? '');
        const disks = lab.userData ? { oemDrive: drive } : { configDrive: drive };
        vms.set(host, await Vm.create({ name: host, baseDisk: images.disk, workDir: join(dir, 'vm'), ...disks, ...(options.memoryMiB ? { memoryMiB: options.memoryMiB } : {}) }));
      }
    } catch (error) {
      await lab.close();
      throw error;
    }
    return lab;
  }

  vm(host: string): Vm {
    const vm = this.vms.get(host);
    if (vm === undefined) throw new Error(`no host ${host} in this lab`);
    return vm;
  }

  /** Powers the hosts on and waits until each has booted with an answering guest agent. */
  async boot(hosts: readonly string[] = this.options.hosts): Promise<void> {
    await Promise.all(
      hosts.map(async (host) => {
        const vm = this.vm(host);
        await vm.start();
        await vm.waitForBoot(600_000);
      }),
    );
  }

  /** Signs and publishes the slot image built under `label` as `version`: the channel's latest from now on; in waves with `rollout`. */
  async publish(label: string, version = label, rollout?: RolloutSchedule): Promise<void> {
    const image = this.images.slots[label];
    if (image === undefined) throw new Error(`no slot image ${label} was built`);
    await publishRelease({ image, version, channel: this.options.channel ?? 'stable', arch: 'x86_64', board: 'qemu', privateKeyArmored: this.images.key.privateArmored, outDir: join(this.options.dir, 'www'), now: new Date(), expiresInSeconds: 86_400, verity: true, ...(rollout ? { rollout } : {}), ...(this.options.maxFormat === undefined ? {} : { maxFormat: this.options.maxFormat }) });
  }

  /** The agent's status (GetStatus over the system bus with busctl); null while it cannot be asked. */
  async status(host: string): Promise<StatusReport | null> {
    const vm = this.vm(host);
    if (!(await vm.ready())) return null;
    try {
      const run = await vm.exec('/usr/bin/busctl', ['--system', '--json=short', 'call', 'org.slipway.Agent1', '/org/slipway/Agent1', 'org.slipway.Agent1', 'GetStatus'], 20_000);
      if (run.code !== 0) return null;
      const reply = JSON.parse(run.stdout) as { data: [string] };
      return JSON.parse(reply.data[0]) as StatusReport;
    } catch {
      return null;
    }
  }

  /** The fleet's halt record of `version` in etcd (the breaker's or an operator's), null when none. */
  async fleetHalt(version: string): Promise<HaltRecord | null> {
    return new EtcdFleetStore(this.client, { group: '', outcomeTtlSeconds: 3_600 }).halt(version);
  }

  /** The agent's journal of this boot (and the one before, when the journal kept it), for a failure's message. */
  async agentJournal(host: string): Promise<string> {
    const vm = this.vm(host);
    if (!(await vm.ready())) return `${host}: the guest does not answer`;
    const run = await vm.exec('/bin/sh', ['-c', 'journalctl -b -1 -u slipway.service --no-pager -o short-monotonic 2>/dev/null | tail -80; echo "--- this boot ---"; journalctl -b -u slipway.service --no-pager -o short-monotonic | tail -150'], 30_000);
    return `${host}:\n${run.stdout}${run.stderr}`;
  }

  /** Waits until `test` holds for the host's status; returns that status. */
  async waitForStatus(host: string, test: (status: StatusReport) => boolean, timeoutMs: number): Promise<StatusReport> {
    const deadline = Date.now() + timeoutMs;
    let last: StatusReport | null = null;
    while (Date.now() < deadline) {
      last = (await this.status(host)) ?? last;
      if (last !== null && test(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    throw new Error(`${host}: status did not reach the expected state within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
  }

  private key(): string {
    return semaphoreKey('');
  }

  async setMax(max: number): Promise<void> {
    const current = await this.semaphore();
    const next = { semaphore: current.semaphore + (max - current.max), max, holders: current.holders };
    await this.client.put(this.key(), JSON.stringify(next));
  }

  /** The semaphore now (locksmith's default when the key does not exist yet). */
  async semaphore(): Promise<Semaphore> {
    const kv = await this.client.get(this.key());
    return kv === null ? { semaphore: 1, max: 1, holders: [] } : parseSemaphore(kv.value, this.key());
  }

  /** Every value the semaphore key ever had, oldest first, read from etcd's revision history. */
  async lockHistory(): Promise<LockRevision[]> {
    const kv = await this.client.get(this.key());
    if (kv === null) return [];
    const history: LockRevision[] = [];
    // Each revision of the whole store where the key changed: walk the key's versions backwards
    // through mod_revision - 1 until its create_revision.
    let revision = Number(kv.modRevision);
    const created = Number(kv.createRevision);
    for (;;) {
      const at = (await this.client.range(this.key(), { revision: String(revision) })).kvs[0];
      if (at === undefined) break;
      history.unshift({ revision: Number(at.modRevision), semaphore: parseSemaphore(at.value, this.key()) });
      if (Number(at.modRevision) <= created) break;
      revision = Number(at.modRevision) - 1;
    }
    return history;
  }

  /**
   * The lock at every store revision since the semaphore was created, oldest first: who held a place
   * and who waited in line. One read per revision, at that revision (etcd here never compacts).
   */
  async lockViews(): Promise<LockView[]> {
    const kv = await this.client.get(this.key());
    if (kv === null) return [];
    const root = this.key().slice(0, -'semaphore'.length);
    const { revision: now } = await this.client.range(this.key());
    const views: LockView[] = [];
    for (let revision = Number(kv.createRevision); revision <= Number(now); revision++) {
      const { kvs } = await this.client.range(root, { prefix: true, revision: String(revision) });
      const semaphore = kvs.find((k) => k.key === this.key());
      views.push({
        revision,
        holders: semaphore === undefined ? [] : parseSemaphore(semaphore.value, this.key()).holders,
        waiting: kvs.filter((k) => k.key.startsWith(`${root}queue/`)).map((k) => decodeURIComponent(k.key.slice(`${root}queue/`.length))),
      });
    }
    return views;
  }

  /** Holder ids (machine ids) to host names, from the records the agents leave beside the semaphore. */
  async holderNames(): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    const records = await this.client.range('coreos.com/updateengine/rebootlock/holders/', { prefix: true });
    for (const { key, value } of records.kvs) {
      if (!key.endsWith('/record')) continue;
      try {
        const record = JSON.parse(value) as { id?: string; host?: string };
        if (record.id && record.host) names.set(record.id, record.host);
      } catch {
        // Not ours to judge here; `slipway lock status` reports corrupt records.
      }
    }
    return names;
  }

  async close(): Promise<void> {
    await Promise.all([...this.vms.values()].map((vm) => vm.stop()));
    this.client.close();
    await this.etcd.stop();
    await this.server.close();
    await this.registry?.close();
    await this.userData?.close();
  }
}
