// Datasources against real inputs: config-drives built as FAT (mkfs.vfat + mtools) and ISO 9660
// (xorriso) images, one found by its label on a loop device, a file, and a URL on a loopback server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigDriveDatasource } from '../../cloud-config/config-drive-datasource.ts';
import { CmdlineDatasource, cloudConfigUrl } from '../../cloud-config/cmdline-datasource.ts';
import { readFirstUserData } from '../../cloud-config/datasource.ts';
import { FileDatasource } from '../../cloud-config/file-datasource.ts';
import { MAX_USER_DATA_BYTES } from '../../cloud-config/validate.ts';
import { DEFAULT_HTTP_SETTINGS, HttpUpdateSource } from '../../agent/update-io/http-update-source.ts';
import { attachLoop, run, tempDir } from '../builders/coreos-disk.ts';
import { startReleaseServer } from '../../qemu/release-server.ts';
import { LOSETUP, missingTools } from '../builders/require-tools.ts';
import { TestClock } from '../fakes/test-clock.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import type { Datasource } from '../../cloud-config/datasource.ts';
import type { ReleaseServer } from '../../qemu/release-server.ts';

const USER_DATA = '#cloud-config\nhostname: from-drive\n';
const skip = missingTools({ 'mkfs.vfat': 'dosfstools', mcopy: 'mtools', xorriso: 'xorriso', blkid: 'util-linux', ...LOSETUP });

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

async function fatDrive(name: string, label: string, userData: string | null, ec2MetaData?: string): Promise<string> {
  const image = join(dir.path, name);
  await run('mkfs.vfat', ['-C', '-n', label, image, '4096']);
  await run('mmd', ['-i', image, '::/openstack', '::/openstack/latest', '::/ec2', '::/ec2/latest']);
  const copy = async (text: string, to: string): Promise<void> => {
    const file = join(dir.path, `${name}.${to.replaceAll('/', '_')}`);
    await writeFile(file, text);
    await run('mcopy', ['-i', image, file, `::${to}`]);
  };
  if (userData !== null) await copy(userData, '/openstack/latest/user_data');
  if (ec2MetaData !== undefined) await copy(ec2MetaData, '/ec2/latest/meta-data.json');
  return image;
}

async function isoDrive(name: string, userData: string | null, ec2MetaData?: string): Promise<string> {
  const tree = join(dir.path, `${name}.tree`);
  await mkdir(join(tree, 'openstack', 'latest'), { recursive: true });
  if (userData !== null) await writeFile(join(tree, 'openstack', 'latest', 'user_data'), userData);
  if (ec2MetaData !== undefined) {
    await mkdir(join(tree, 'ec2', 'latest'), { recursive: true });
    await writeFile(join(tree, 'ec2', 'latest', 'meta-data.json'), ec2MetaData);
  }
  const image = join(dir.path, name);
  await run('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'config-2', '-R', '-J', '-o', image, tree]);
  return image;
}

describe.skipIf(skip !== null)(`${skip ?? ''} config-drive`, () => {
  it('reads user_data from a FAT config-drive', async () => {
    const device = await fatDrive('fat.img', 'config-2', USER_DATA);
    expect(await new ConfigDriveDatasource({ device }).read()).toEqual({ origin: `config-drive ${device}`, text: USER_DATA, addresses: {} });
  });

  it('reads user_data from an ISO 9660 config-drive', async () => {
    const device = await isoDrive('drive.iso', USER_DATA);
    expect(await new ConfigDriveDatasource({ device }).read()).toEqual({ origin: `config-drive ${device}`, text: USER_DATA, addresses: {} });
  });

  it("gives the host's addresses from ec2/latest/meta-data.json, on either filesystem, and ignores what is not an address", async () => {
    const metaData = JSON.stringify({ 'public-ipv4': '203.0.113.7', 'local-ipv4': '10.0.0.7', hostname: 'x', 'public-hostname': 'not-an-ip' });
    for (const device of [await fatDrive('meta.img', 'config-2', USER_DATA, metaData), await isoDrive('meta.iso', USER_DATA, metaData)]) {
      expect((await new ConfigDriveDatasource({ device }).read())?.addresses).toEqual({ public_ipv4: '203.0.113.7', private_ipv4: '10.0.0.7' });
    }
    const odd = await fatDrive('odd-meta.img', 'config-2', USER_DATA, JSON.stringify({ 'public-ipv4': '203.0.113.7\nhostname: evil', 'local-ipv4': 7 }));
    expect((await new ConfigDriveDatasource({ device: odd }).read())?.addresses).toEqual({});
    const broken = await isoDrive('broken-meta.iso', USER_DATA, '{"public-ipv4":');
    await expect(new ConfigDriveDatasource({ device: broken }).read()).rejects.toThrow(`/ec2/latest/meta-data.json on config-drive ${broken} is not JSON`);
  });

  it('is absent when the drive has no user_data, on either filesystem', async () => {
    expect(await new ConfigDriveDatasource({ device: await fatDrive('empty.img', 'config-2', null) }).read()).toBeNull();
    expect(await new ConfigDriveDatasource({ device: await isoDrive('empty.iso', null) }).read()).toBeNull();
  });

  it('refuses user_data over the size cap, on either filesystem', async () => {
    const big = `#cloud-config\n#${'x'.repeat(MAX_USER_DATA_BYTES)}\n`;
    await expect(new ConfigDriveDatasource({ device: await fatDrive('big.img', 'config-2', big) }).read()).rejects.toMatchObject({ code: 'ERR_USER_DATA_TOO_LARGE' });
    await expect(new ConfigDriveDatasource({ device: await isoDrive('big.iso', big) }).read()).rejects.toMatchObject({ code: 'ERR_USER_DATA_TOO_LARGE' });
  });

  it('refuses a labelled device that holds another filesystem, naming it', async () => {
    const image = join(dir.path, 'ext4.img');
    await run('mkfs.ext4', ['-q', '-L', 'config-2', image, '4M']);
    await expect(new ConfigDriveDatasource({ device: image }).read()).rejects.toThrow(`config-drive ${image} holds a ext4 filesystem; a config-drive is FAT or ISO 9660`);
  });

  it('finds the drive by its label on a block device, and is absent when no device has the label', async () => {
    const label = `cfg-${process.pid % 100000}`;
    const loop = await attachLoop(await fatDrive('labelled.img', label, USER_DATA), 512);
    try {
      expect(await new ConfigDriveDatasource({ labels: [label] }).read()).toEqual({ origin: `config-drive ${loop.device}`, text: USER_DATA, addresses: {} });
    } finally {
      await loop.detach();
    }
    expect(await new ConfigDriveDatasource({ labels: ['no-such-label'] }).read()).toBeNull();
  });
});

describe('file datasource', () => {
  it('reads a file, is absent without one, and refuses one over the cap before reading it', async () => {
    const file = join(dir.path, 'user-data');
    await writeFile(file, USER_DATA);
    expect(await new FileDatasource(file).read()).toEqual({ origin: file, text: USER_DATA });
    expect(await new FileDatasource(join(dir.path, 'none')).read()).toBeNull();
    const big = join(dir.path, 'big-user-data');
    await writeFile(big, Buffer.alloc(MAX_USER_DATA_BYTES + 1, 0x23));
    await expect(new FileDatasource(big).read()).rejects.toMatchObject({ code: 'ERR_USER_DATA_TOO_LARGE' });
  });
});

describe('kernel command line datasource', () => {
  let server: ReleaseServer;
  beforeAll(async () => {
    await writeFile(join(dir.path, 'served-user-data'), USER_DATA);
    server = await startReleaseServer(dir.path);
  });
  afterAll(async () => {
    await server.close();
  });

  const http = new HttpUpdateSource({ ...DEFAULT_HTTP_SETTINGS, retries: 0, smallRequestDeadlineMs: 2_000 }, new TestClock(0), () => 0.5);
  const source = (cmdline: string, clock: TestClock, warnings: string[] = []): CmdlineDatasource =>
    new CmdlineDatasource({
      readCmdline: () => Promise.resolve(cmdline),
      fetch: (url) => http.fetchSmall(url, MAX_USER_DATA_BYTES),
      clock,
      random: () => 0.5,
      maxWaitMs: 60_000,
      backoffBaseMs: 1_000,
      backoffMaxMs: 16_000,
      log: (_fields, message) => warnings.push(message),
    });

  it('takes the last cloud-config-url= of the command line', () => {
    expect(cloudConfigUrl('ro root=x cloud-config-url=http://a/1 quiet cloud-config-url=http://b/2\n')).toBe('http://b/2');
    expect(cloudConfigUrl('ro quiet')).toBeNull();
  });

  it('fetches the URL named on the command line', async () => {
    expect(await source(`quiet cloud-config-url=${server.url}/served-user-data`, new TestClock(0)).read()).toEqual({ origin: `${server.url}/served-user-data`, text: USER_DATA });
    expect(await source('quiet', new TestClock(0)).read()).toBeNull();
  });

  it('retries with backoff while the URL fails, then gives up within the bounded wait', async () => {
    const clock = new TestClock(0);
    const warnings: string[] = [];
    let answered = 0;
    server.handle((_request, response) => {
      answered++;
      response.writeHead(503).end();
    });
    try {
      await expect(source(`cloud-config-url=${server.url}/served-user-data`, clock, warnings).read()).rejects.toThrow(/^gave up fetching .* after \d+ attempts in 60 s$/);
    } finally {
      server.handle(null);
    }
    expect(clock.now().getTime()).toBe(60_000);
    expect(answered).toBe(clock.sleeps.length + 1);
    expect(clock.sleeps.slice(0, 4)).toEqual([501, 1001, 2001, 4001]);
    expect(warnings[0]).toBe('fetching cloud-config failed; retrying in 501 ms');
  });

  it('refuses a URL that is not http or https', async () => {
    await expect(source('cloud-config-url=file:///etc/shadow', new TestClock(0)).read()).rejects.toThrow('cloud-config-url=file:///etc/shadow on the kernel command line is not an http or https URL');
  });

  it('lets boot go on: a broken source is reported and the next one is read', async () => {
    const broken: Datasource = { name: 'broken', read: () => Promise.reject(new Error('boom')) };
    const absent: Datasource = { name: 'absent', read: () => Promise.resolve(null) };
    const file = new FileDatasource(join(dir.path, 'served-user-data'));
    const warnings: string[] = [];
    const found = await readFirstUserData([absent, broken, file], (_f, m) => warnings.push(m));
    expect(found.data).toMatchObject({ text: USER_DATA });
    expect(found.failures.map((f) => f.source)).toEqual(['broken']);
    expect(warnings).toEqual(['datasource broken is present but unreadable; trying the next one']);
    expect(await readFirstUserData([absent], () => undefined)).toEqual({ data: null, failures: [] });
    // Nothing found and nothing readable are told apart: the caller must not take a failure for "no user-data".
    const failed = await readFirstUserData([absent, broken], () => undefined);
    expect(failed.data).toBeNull();
    expect(failed.failures).toMatchObject([{ source: 'broken', error: { message: 'boom' } }]);
  });
});
