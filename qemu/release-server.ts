// A real HTTP (or HTTPS) server on loopback, for the tests and the demo, that serves a channel
// directory with Range support and lets each test replace or break any response: resets mid-body,
// stalls, ignored Range, slow drips, endless bodies, redirects, error statuses.

import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { join, normalize } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServeOptions {
  /** Pretend Range is not supported: always answer 200 with the whole file. */
  readonly ignoreRange?: boolean;
  /** Destroy the connection after this many body bytes. */
  readonly resetAfter?: number;
  /** Send no more after this many body bytes, keeping the connection open (a VM is cut meanwhile). */
  readonly stallAfter?: number;
  /**
   * Send nothing at or past this offset of the file (negative: from its end), whatever the Range asked,
   * keeping the connection open: every request, resumed ones too, stops at the same byte.
   */
  readonly stallAt?: number;
  /** Send at most `bytes` every `everyMs`, to make a download slow enough to interrupt. */
  readonly throttle?: { readonly bytes: number; readonly everyMs: number };
}

export type Handler = (request: IncomingMessage, response: ServerResponse, serve: (options?: ServeOptions) => Promise<void>) => Promise<void> | void;

export interface ReleaseServer {
  readonly url: string;
  readonly requests: { readonly path: string; readonly range: string | undefined }[];
  /** Body bytes written to clients since the server started, over every file and request. */
  readonly bytesSent: number;
  /** Replaces how requests are answered; the default serves files. */
  handle(handler: Handler | null): void;
  close(): Promise<void>;
}

/** `tls`: serve HTTPS with this certificate and key (PEM files), for 127.0.0.1. */
export async function startReleaseServer(root: string, options: { tls?: { readonly certFile: string; readonly keyFile: string } } = {}): Promise<ReleaseServer> {
  let handler: Handler | null = null;
  const requests: { path: string; range: string | undefined }[] = [];
  const counted = { bytes: 0 };

  const serveFile = async (request: IncomingMessage, response: ServerResponse, options: ServeOptions = {}): Promise<void> => {
    const path = join(root, normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)));
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    let start = 0;
    let last = info.size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    if (range?.[1] && !options.ignoreRange) {
      start = Number(range[1]);
      if (range[2]) last = Math.min(last, Number(range[2]));
      response.writeHead(206, { 'content-length': last + 1 - start, 'content-range': `bytes ${start}-${last}/${info.size}`, 'accept-ranges': 'bytes' });
    } else {
      response.writeHead(200, { 'content-length': info.size, 'accept-ranges': 'bytes' });
    }
    let sent = 0;
    const stallAt = options.stallAt === undefined ? undefined : options.stallAt < 0 ? info.size + options.stallAt : options.stallAt;
    const stallAfter = stallAt === undefined ? options.stallAfter : Math.max(0, Math.min(options.stallAfter ?? Infinity, stallAt - start));
    if (stallAfter === 0) {
      response.flushHeaders(); // the headers go out; the body never comes
      return;
    }
    const stream = createReadStream(path, { start, end: last, highWaterMark: options.throttle?.bytes ?? 64 * 1024 });
    if (options.throttle) {
      const { everyMs } = options.throttle;
      stream.on('data', () => {
        stream.pause();
        setTimeout(() => stream.resume(), everyMs);
      });
    }
    stream.on('data', (chunk: Buffer | string) => {
      const piece = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (options.resetAfter !== undefined && sent + piece.length > options.resetAfter) {
        stream.destroy();
        // Cut the connection only once the bytes before the cut have left, as a real reset would.
        response.write(piece.subarray(0, options.resetAfter - sent), () => response.socket?.destroy());
        return;
      }
      if (stallAfter !== undefined && sent + piece.length > stallAfter) {
        stream.destroy();
        response.write(piece.subarray(0, stallAfter - sent));
        return;
      }
      sent += piece.length;
      counted.bytes += piece.length;
      response.write(piece);
    });
    stream.on('end', () => response.end());
  };

  const answer = (request: IncomingMessage, response: ServerResponse): void => {
    requests.push({ path: new URL(request.url ?? '/', 'http://x').pathname, range: request.headers.range });
    const serve = (serveOptions?: ServeOptions): Promise<void> => serveFile(request, response, serveOptions);
    Promise.resolve(handler ? handler(request, response, serve) : serve()).catch(() => response.destroy());
  };
  const { tls } = options;
  const server = tls ? createTlsServer({ cert: await readFile(tls.certFile), key: await readFile(tls.keyFile) }, answer) : createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    get bytesSent() {
      return counted.bytes;
    },
    handle: (next) => {
      handler = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
