// The fleet view in a real browser: `slipway fleet serve` as a process against a real etcd, Debian's
// headless Chromium driven by playwright-core. The page shows the releases, hosts and reboot places;
// then the fleet moves (a host reports a new version, an operator halts a release, a Zincati host takes
// a place through FleetLock) and the page follows without a reload. A screenshot is kept in
// test-artifacts/fleet-view.png.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { EtcdGatewayClient } from '../../agent/lock/etcd-gateway-client.ts';
import { EtcdFleetStore } from '../../agent/fleet/etcd-fleet-store.ts';
import { EtcdLockBackend } from '../../agent/lock/etcd-lock-backend.ts';
import { startEtcd } from '../../qemu/etcd-server.ts';
import { missingTools } from '../builders/require-tools.ts';
import { hostReport, updateOutcome } from '../builders/fleet-reports.ts';
import { runSlipway } from '../builders/run-slipway.ts';
import { rawRequest, startFleetServe, zincatiRequest } from '../builders/fleet-serve.ts';
import type { Browser, Page } from 'playwright-core';
import type { EtcdServer } from '../../qemu/etcd-server.ts';
import type { FleetServe } from '../builders/fleet-serve.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = missingTools({ etcd: 'etcd-server', [CHROMIUM]: 'chromium' });
const SCREENSHOT = resolve('test-artifacts/fleet-view.png');

describe.skipIf(skip !== null)(`${skip ?? ''} the fleet view in Chromium`, () => {
  let etcd: EtcdServer;
  let raw: EtcdGatewayClient;
  let store: EtcdFleetStore;
  let serve: FleetServe;
  let browser: Browser;
  let page: Page;
  const minutesAgo = (m: number): string => new Date(Date.now() - m * 60_000).toISOString();

  beforeAll(async () => {
    etcd = await startEtcd();
    raw = new EtcdGatewayClient({ connection: etcd.connection(), tls: null, callTimeoutMs: 5_000, now: () => Date.now() });
    // FleetLock's group "default" is locksmith's default group: the view shows that one.
    store = new EtcdFleetStore(raw, { group: '', outcomeTtlSeconds: 3600 });
    await new EtcdLockBackend(raw, { group: '', holdTtlSeconds: 600 }).setMax(2);
    await store.recordHost(hostReport('web-1', '1.4.0', minutesAgo(1), { slot: 'USR-B' }));
    await store.recordHost(hostReport('web-2', '1.3.2', minutesAgo(1), { staged: '1.4.0', activity: 'waiting-to-reboot' }));
    await store.recordHost(hostReport('web-3', '1.3.2', minutesAgo(2), { waitingForWave: { version: '1.4.0', until: '2030-01-01T06:00:00.000Z' } }));
    await store.recordHost(hostReport('db-1', '1.3.2', minutesAgo(4 * 60)));
    // A host name written by a hostile agent: shown as text, never run.
    await store.recordHost(hostReport('<img src=x onerror="document.title=1">', '1.3.2', minutesAgo(1), { machineId: 'id-evil' }));
    await store.recordOutcome(updateOutcome('web-1', '1.4.0', 'succeeded', minutesAgo(30)));
    await store.recordOutcome(updateOutcome('web-4', '1.4.0', 'gate-failed', minutesAgo(20), 'nginx.service failed its HTTP probe'));
    await new EtcdLockBackend(raw, { group: '', holdTtlSeconds: 600 }).acquire({ id: 'id-web-2', host: 'web-2', since: minutesAgo(1), targetVersion: '1.4.0' });

    serve = await startFleetServe(['--etcd', etcd.url]);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    raw?.close();
    await etcd?.stop();
  });

  const text = (selector: string): Promise<string> => page.locator(selector).innerText();
  /** Waits, through Playwright's own selectors (the page's policy forbids evaluating strings), until `selector` shows `text`. */
  const until = (selector: string, text: RegExp): Promise<void> => page.locator(selector, { hasText: text }).waitFor();

  it('shows the releases as bars, the hosts, the reboot places and the failures, and follows the fleet as it moves', async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(serve.url);
    await page.locator('[data-version="1.4.0"]').waitFor();

    expect(await text('[data-version="1.4.0"] .counts')).toBe('1 running · 1 staged · 1 waiting for their wave (next 2030-01-01 06:00:00Z) · 1 failed · 1 updated');
    expect(await text('[data-version="1.4.0"] ul.failures')).toMatch(/^web-4 gate-failed: nginx\.service failed its HTTP probe \(/);
    expect(await text('[data-version="1.3.2"] .counts')).toMatch(/^4 running · 0 staged/);
    expect(await page.locator('#releases .release .version').allInnerTexts()).toEqual(['1.4.0', '1.3.2']);
    expect(await text('[data-host="web-1"]')).toMatch(/^web-1\t1\.4\.0\tUSR-B\tidle, confirmed\t/);
    expect(await text('[data-host="web-2"]')).toContain('staged 1.4.0, holds a reboot place');
    expect(await page.locator('[data-host="db-1"]').getAttribute('class')).toBe('quiet');
    expect(await text('#quiet')).toBe('1 quiet for over 30m: db-1');
    expect(await text('#places')).toBe('1 of 2 reboot places held');
    expect(await text('[data-holder="id-web-2"]')).toMatch(/^id-web-2\s*agent\s*web-2 since .*, to 1\.4\.0/);
    expect(await text('#live')).toBe('live');
    // The hostile name is text in its cell, and nothing it spelled ran.
    expect(await page.locator('#hosts img').count()).toBe(0);
    expect(await text('[data-host^="<img"] td:first-child')).toBe('<img src=x onerror="document.title=1">');
    expect(await page.title()).toBe('slipway fleet');

    // The fleet moves; the page must follow without being loaded again.
    await page.evaluate('window.notReloaded = true');
    await store.recordHost(hostReport('web-2', '1.4.0', new Date().toISOString(), { slot: 'USR-B', health: 'trial' }));
    await until('[data-version="1.4.0"] .counts', /^2 running · 0 staged/);
    expect(await text('[data-host="web-2"]')).toMatch(/^web-2\t1\.4\.0\tUSR-B\tidle, trial/);

    expect((await runSlipway(['fleet', 'halt', '1.4.0', '--reason', 'probe failures on web-4', '--etcd', etcd.url])).code).toBe(0);
    await page.locator('[data-version="1.4.0"] [data-halted]').waitFor();
    expect(await text('[data-version="1.4.0"] .badge')).toBe('HALTED by operator');
    expect(await text('[data-version="1.4.0"] .why')).toMatch(/^halted by operator at .*: probe failures on web-4$/);

    // A Fedora CoreOS host takes the second place as Zincati asks for it.
    expect((await zincatiRequest(serve.url, 'pre-reboot', 'c0ffee00c0ffee00c0ffee00c0ffee00')).status).toBe(200);
    await until('#places', /^2 of 2 reboot places held$/);
    expect(await text('[data-holder="c0ffee00c0ffee00c0ffee00c0ffee00"]')).toMatch(/fleetlock\s*fleetlock:c0ffee00c0ffee00c0ffee00c0ffee00 since .*, until released/);

    expect(await page.evaluate('window.notReloaded')).toBe(true);
    expect(errors).toEqual([]);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`fleet view screenshot: ${SCREENSHOT}`);
  });

  it('serves the page with a policy that runs only its own script, and refuses writes and other host names', async () => {
    const response = await fetch(serve.url);
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; style-src 'sha256-/);
    expect((await fetch(new URL('api/fleet', serve.url), { method: 'POST' })).status).toBe(405);
    expect((await fetch(new URL('api/fleet', serve.url))).status).toBe(200);
    // DNS rebinding: a name that resolves to loopback but is not one the server answers for.
    const rebound = await rawRequest(serve.url, 'GET /api/fleet HTTP/1.1\r\nhost: evil.example:9339\r\n\r\n');
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain('web-1');
    // Nor may a page there take a reboot place through it.
    expect((await zincatiRequest(serve.url, 'pre-reboot', 'feed', 'default', 'evil.example:9339')).status).toBe(421);
  });
});
