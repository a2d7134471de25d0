// Datasource adapter for an OpenStack-style config-drive: the filesystem labelled config-2 holding
// openstack/latest/user_data (and, when present, the host's addresses in ec2/latest/meta-data.json). It is read in user space (mtools for FAT, xorriso for ISO 9660), so
// an untrusted filesystem image is never handed to the kernel to mount.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { checkUserDataSize } from './datasource.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import { runTool } from './run-tool.ts';
import { MAX_USER_DATA_BYTES } from './validate.ts';
import type { Datasource, UserData } from './datasource.ts';
import type { HostAddresses } from './host-addresses.ts';

export const CONFIG_DRIVE_LABELS = ['config-2', 'CONFIG-2'] as const;
const USER_DATA = '/openstack/latest/user_data';
/** OpenStack's EC2-style metadata on the drive: where it gives the host's addresses. */
const EC2_METADATA = '/ec2/latest/meta-data.json';
const MAX_METADATA_BYTES = 64 * 1024;

export interface ConfigDriveSettings {
  /** A device or image to read; when absent, the device is found by label. */
  readonly device?: string;
  readonly labels?: readonly string[];
}

type ReadDriveFile = (path: string, cap: number) => Promise<Buffer | null>;

export class ConfigDriveDatasource implements Datasource {
  readonly name = 'config-drive';
  private readonly settings: ConfigDriveSettings;

  constructor(settings: ConfigDriveSettings = {}) {
    this.settings = settings;
  }

  async read(): Promise<UserData | null> {
    const device = this.settings.device ?? (await findByLabel(this.settings.labels ?? CONFIG_DRIVE_LABELS));
    if (device === null) return null;
    const type = await filesystemType(device);
    const origin = `config-drive ${device}`;
    let readDriveFile: ReadDriveFile;
    if (type === 'vfat') readDriveFile = (path, cap) => readFat(device, path, cap, origin);
    else if (type === 'iso9660') readDriveFile = (path, cap) => readIso(device, path, cap, origin);
    else throw new CloudConfigError('ERR_DATASOURCE', `${origin} holds a ${type || 'unknown'} filesystem; a config-drive is FAT or ISO 9660`);
    const userData = await readDriveFile(USER_DATA, MAX_USER_DATA_BYTES);
    if (userData === null) return null;
    return { origin, text: userData.toString('utf8'), addresses: ec2Addresses(await readDriveFile(EC2_METADATA, MAX_METADATA_BYTES), origin) };
  }
}

/** public-ipv4 and local-ipv4 of the EC2-style metadata; none when the file is absent or says nothing usable. */
function ec2Addresses(bytes: Buffer | null, origin: string): HostAddresses {
  if (bytes === null) return {};
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new CloudConfigError('ERR_DATASOURCE', `${EC2_METADATA} on ${origin} is not JSON`, { cause });
  }
  const m = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const address = (key: string): string | undefined => (typeof m[key] === 'string' && isIP(m[key]) !== 0 ? m[key] : undefined);
  const found: { public_ipv4?: string; private_ipv4?: string } = {};
  const publicIpv4 = address('public-ipv4');
  const privateIpv4 = address('local-ipv4');
  if (publicIpv4 !== undefined) found.public_ipv4 = publicIpv4;
  if (privateIpv4 !== undefined) found.private_ipv4 = privateIpv4;
  return found;
}

/** blkid scans /proc/partitions; its cache is bypassed so a stale entry cannot point at a removed image. */
async function findByLabel(labels: readonly string[]): Promise<string | null> {
  for (const label of labels) {
    const found = await runTool('blkid', ['-c', '/dev/null', '-t', `LABEL=${label}`, '-o', 'device']);
    const device = found.stdout.toString('utf8').split('\n')[0]?.trim();
    if (found.code === 0 && device) return device;
  }
  return null;
}

async function filesystemType(device: string): Promise<string> {
  const probe = await runTool('blkid', ['-c', '/dev/null', '-p', '-o', 'value', '-s', 'TYPE', device]);
  if (probe.code !== 0 && probe.code !== 2) throw new CloudConfigError('ERR_DATASOURCE', `cannot probe config-drive ${device}: ${probe.stderr}`);
  return probe.stdout.toString('utf8').trim();
}

async function readFat(device: string, path: string, cap: number, origin: string): Promise<Buffer | null> {
  let result;
  try {
    result = await runTool('mtype', ['-i', device, `::${path}`], { maxOutputBytes: cap, env: { MTOOLS_SKIP_CHECK: '1', PATH: '/usr/bin:/bin' } });
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') tooLarge(path, cap + 1, cap, origin);
    throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${path} from ${origin}`, { cause: error });
  }
  if (result.code !== 0 && result.stderr.includes('not found')) return null;
  if (result.code !== 0) throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${path} from ${origin}: ${result.stderr}`);
  return result.stdout;
}

async function readIso(device: string, path: string, cap: number, origin: string): Promise<Buffer | null> {
  // The size is asked first, so an oversized file is refused before anything is extracted.
  const listing = await runTool('xorriso', ['-indev', device, '-lsl', path]);
  const size = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s/m.exec(listing.stdout.toString('utf8'))?.[1];
  if (size === undefined) {
    if (listing.stderr.includes('Not found')) return null;
    throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${path} from ${origin}: ${lastLines(listing.stderr)}`);
  }
  tooLarge(path, Number(size), cap, origin);
  const dir = await mkdtemp(join(tmpdir(), 'slipway-configdrive-'));
  try {
    const target = join(dir, 'extracted');
    const result = await runTool('xorriso', ['-osirrox', 'on', '-indev', device, '-extract', path, target]);
    if (result.code !== 0) throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${path} from ${origin}: ${lastLines(result.stderr)}`);
    return await readFile(target);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** user_data has the size cap every datasource shares; the metadata a smaller one. */
function tooLarge(path: string, bytes: number, cap: number, origin: string): void {
  if (path === USER_DATA) checkUserDataSize(bytes, origin);
  else if (bytes > cap) throw new CloudConfigError('ERR_DATASOURCE', `${path} on ${origin} is ${bytes} bytes; the limit is ${cap}`);
}

function lastLines(text: string): string {
  return text.split('\n').slice(-2).join(' ');
}
