// The lab's metadata service for hosts that find their cloud-config through `cloud-config-url=` on the
// kernel command line: GET /user-data/<host> on loopback, answering 503 to each host's first
// `failFirst` requests (a metadata service still starting) and the host's user data after that.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UserDataServer {
  readonly url: string;
  /** The URL a host's kernel command line names. */
  urlFor(host: string): string;
  /** The statuses this server answered to each host's requests, in order. */
  answers(host: string): readonly number[];
  close(): Promise<void>;
}

export async function startUserDataServer(userData: ReadonlyMap<string, string>, failFirst: number): Promise<UserDataServer> {
  const answered = new Map<string, number[]>();
  const server = createServer((request, response) => {
    const host = /^\/user-data\/([A-Za-z0-9-]+)$/.exec(request.url ?? '')?.[1];
    const text = host === undefined ? undefined : userData.get(host);
    if (host === undefined || text === undefined) {
      response.writeHead(404).end();
      return;
    }
    const seen = answered.get(host) ?? [];
    answered.set(host, seen);
    const status = seen.length < failFirst ? 503 : 200;
    seen.push(status);
    if (status === 503) response.writeHead(503, { 'retry-after': '1' }).end('starting\n');
    else response.writeHead(200, { 'content-type': 'text/cloud-config' }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    urlFor: (host) => `${url}/user-data/${host}`,
    answers: (host) => answered.get(host) ?? [],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
