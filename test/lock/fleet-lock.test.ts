// The FleetLock client against a loopback FleetLock server double that keeps airlock's semaphore
// and checks the protocol (header, body, group), and against servers that misbehave.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { FleetLockClient } from '../../agent/lock/fleet-lock-client.ts';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

/** airlock's rules: total_slots places per group, recursive per id, errors as {kind, value}. */
let slots = 1;
let holders: string[] = [];
let mode: 'airlock' | 'garbage' | 'down' = 'airlock';
const seen: { path: string; header: string | undefined; body: unknown }[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(text || 'null') as { client_params?: { id?: string; group?: string } } | null;
      seen.push({ path: req.url ?? '', header: req.headers['fleet-lock-protocol'] as string | undefined, body });
      if (mode === 'garbage') return void res.writeHead(200 + 302).end('<html>');
      if (mode === 'down') return void res.writeHead(503).end('{"kind":"failed_lock","value":"etcd unavailable"}');
      if (req.headers['fleet-lock-protocol'] !== 'true') return void res.writeHead(400).end('{"kind":"missing_header","value":"fleet-lock-protocol"}');
      const id = body?.client_params?.id ?? '';
      if (req.url === '/v1/pre-reboot') {
        if (holders.includes(id)) return void res.writeHead(200).end();
        if (holders.length >= slots) return void res.writeHead(409).end(JSON.stringify({ kind: 'failed_lock', value: `all ${slots} slots taken` }));
        holders.push(id);
        return void res.writeHead(200).end();
      }
      if (req.url === '/v1/steady-state') {
        holders = holders.filter((h) => h !== id);
        return void res.writeHead(200).end();
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});
beforeEach(() => {
  slots = 1;
  holders = [];
  mode = 'airlock';
  seen.length = 0;
});

const record = (id: string) => ({ id, host: id, since: '2026-11-22T00:00:00Z', targetVersion: '1.0.1' });
const client = (group = 'workers') => new FleetLockClient({ baseUrl: url, group, timeoutMs: 2_000 });

describe('FleetLock client', () => {
  it('speaks the protocol: path, header and client_params', async () => {
    expect(await client().acquire(record('m1'))).toEqual({ kind: 'acquired', reclaimed: [] });
    expect(seen[0]).toEqual({ path: '/v1/pre-reboot', header: 'true', body: { client_params: { id: 'm1', group: 'workers' } } });
    expect(await client().release('m1')).toBe('released');
    expect(seen[1]?.path).toBe('/v1/steady-state');
  });

  it('is recursive per id and reports a full semaphore with the server error', async () => {
    expect((await client().acquire(record('m1'))).kind).toBe('acquired');
    expect((await client().acquire(record('m1'))).kind).toBe('acquired');
    expect(await client().acquire(record('m2'))).toEqual({ kind: 'full', holders: [], reason: `${url}/v1/pre-reboot answered 409 (failed_lock: all 1 slots taken)` });
  });

  it('treats garbage or an error status as not locked', async () => {
    mode = 'garbage';
    expect(await client().acquire(record('m1'))).toMatchObject({ kind: 'full', reason: expect.stringContaining('unreadable body') as unknown });
    mode = 'down';
    expect(await client().acquire(record('m1'))).toMatchObject({ kind: 'full', reason: expect.stringContaining('503 (failed_lock: etcd unavailable)') as unknown });
  });

  it('treats an unreachable server as not locked, and an unconfirmed unlock as an error to retry', async () => {
    const nowhere = new FleetLockClient({ baseUrl: 'http://127.0.0.1:9', group: 'workers', timeoutMs: 1_000 });
    expect((await nowhere.acquire(record('m1'))).kind).toBe('full');
    await expect(nowhere.release('m1')).rejects.toMatchObject({ code: 'ERR_LOCK_UNCONFIRMED' });
  });

  it('refuses a group FleetLock does not allow', () => {
    expect(() => client('web servers')).toThrow(expect.objectContaining({ code: 'ERR_LOCK_CONFIG_INVALID' }));
  });
});
