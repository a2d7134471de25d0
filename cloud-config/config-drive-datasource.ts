// Datasource adapter for an OpenStack-style config-drive: the filesystem labelled config-2 holding
// openstack/latest/user_data. It is read in user space (mtools for FAT, xorriso for ISO 9660), so
// an untrusted filesystem image is never handed to the kernel to mount.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkUserDataSize } from './datasource.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import { runTool } from './run-tool.ts';
import { MAX_USER_DATA_BYTES } from './validate.ts';
import type { Datasource, UserData } from './datasource.ts';

export const CONFIG_DRIVE_LABELS = ['config-2', 'CONFIG-2'] as const;
const USER_DATA = '/openstack/latest/user_data';

export interface ConfigDriveSettings {
  /** A device or image to read; when absent, the device is found by label. */
  readonly device?: string;
  readonly labels?: readonly string[];
}

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
    if (type === 'vfat') return readFat(device, origin);
    if (type === 'iso9660') return readIso(device, origin);
    throw new CloudConfigError('ERR_DATASOURCE', `${origin} holds a ${type || 'unknown'} filesystem; a config-drive is FAT or ISO 9660`);
  }
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

async function readFat(device: string, origin: string): Promise<UserData | null> {
  let result;
  try {
    result = await runTool('mtype', ['-i', device, `::${USER_DATA}`], { maxOutputBytes: MAX_USER_DATA_BYTES, env: { MTOOLS_SKIP_CHECK: '1', PATH: '/usr/bin:/bin' } });
  } catch (error) {
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') checkUserDataSize(MAX_USER_DATA_BYTES + 1, origin);
    throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${USER_DATA} from ${origin}`, { cause: error });
  }
  if (result.code !== 0 && result.stderr.includes('not found')) return null;
  if (result.code !== 0) throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${USER_DATA} from ${origin}: ${result.stderr}`);
  return { origin, text: result.stdout.toString('utf8') };
}

async function readIso(device: string, origin: string): Promise<UserData | null> {
  // The size is asked first, so an oversized file is refused before anything is extracted.
  const listing = await runTool('xorriso', ['-indev', device, '-lsl', USER_DATA]);
  const size = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s/m.exec(listing.stdout.toString('utf8'))?.[1];
  if (size === undefined) {
    if (listing.stderr.includes('Not found')) return null;
    throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${USER_DATA} from ${origin}: ${lastLines(listing.stderr)}`);
  }
  checkUserDataSize(Number(size), origin);
  const dir = await mkdtemp(join(tmpdir(), 'slipway-configdrive-'));
  try {
    const target = join(dir, 'user_data');
    const result = await runTool('xorriso', ['-osirrox', 'on', '-indev', device, '-extract', USER_DATA, target]);
    if (result.code !== 0) throw new CloudConfigError('ERR_DATASOURCE', `cannot read ${USER_DATA} from ${origin}: ${lastLines(result.stderr)}`);
    return { origin, text: await readFile(target, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lastLines(text: string): string {
  return text.split('\n').slice(-2).join(' ');
}
