// Fetches a channel's manifest, signature and payload over HTTP(S) with got: timeouts, retries with
// exponential backoff and jitter, a redirect limit, no redirect to another scheme or from https to
// http, a size cap and a deadline on every small response, a minimum rate on the payload, and Range
// requests for payload resumes.

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { RequestError } from 'got';
import { jitteredBackoff } from '../../platform/backoff.ts';
import { UpdateError } from '../update/update-errors.ts';
import { DEFAULT_RATE_FLOOR, RateFloor } from './rate-floor.ts';
import type { RateFloorSettings } from './rate-floor.ts';
import type { Clock } from '../../platform/clock.ts';
import type { PayloadSource, UpdateSource } from '../update/update-source.ts';
import type { Got } from 'got';

export interface HttpSettings extends RateFloorSettings {
  /** No bytes for this long: the connection is given up (a stall). */
  readonly idleTimeoutMs: number;
  /** Whole-request deadline for the manifest and the signature. */
  readonly smallRequestDeadlineMs: number;
  readonly connectTimeoutMs: number;
  readonly retries: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxRedirects: number;
  readonly manifestCapBytes: number;
  readonly signatureCapBytes: number;
  /** http://host:port of a proxy for all requests, or null for direct. */
  readonly proxy: string | null;
}

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  idleTimeoutMs: 30_000,
  ...DEFAULT_RATE_FLOOR,
  smallRequestDeadlineMs: 60_000,
  connectTimeoutMs: 15_000,
  retries: 4,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  maxRedirects: 5,
  manifestCapBytes: 1024 * 1024,
  signatureCapBytes: 64 * 1024,
  proxy: null,
};

const RETRY_STATUS = [408, 429, 500, 502, 503, 504];

/** Full jitter: a random wait up to the exponential bound, so a fleet does not retry in step. */
export function backoffDelay(attempt: number, settings: HttpSettings, random: () => number): number {
  return jitteredBackoff(attempt - 1, settings.backoffBaseMs, settings.backoffMaxMs, random);
}

function findUpdateError(error: unknown): UpdateError | null {
  for (let e: unknown = error; e instanceof Error; e = e.cause) if (e instanceof UpdateError) return e;
  return null;
}

/** got's errors, and ours thrown inside its hooks, as UpdateErrors naming the URL. */
export function asUpdateError(error: unknown, url: string): UpdateError {
  const ours = findUpdateError(error);
  if (ours) return ours;
  if (error instanceof RequestError) {
    const status = error.response?.statusCode;
    if (error.code === 'ETIMEDOUT') return new UpdateError('ERR_HTTP_TIMEOUT', `timed out fetching ${url} (${error.message})`, { cause: error });
    if (error.code === 'ERR_UNSUPPORTED_PROTOCOL') {
      // got refuses a redirect to file:, ftp: and the like before our hook sees it.
      return new UpdateError('ERR_HTTP_REDIRECT_REFUSED', `refusing to follow ${url} elsewhere: only http and https are allowed (${error.message})`, { cause: error });
    }
    if (error.code === 'ERR_TOO_MANY_REDIRECTS') return new UpdateError('ERR_HTTP_REDIRECT_REFUSED', `too many redirects fetching ${url}`, { cause: error });
    const what = status === undefined ? error.message : `HTTP ${status}`;
    return new UpdateError('ERR_HTTP', `failed to fetch ${url}: ${what}`, { cause: error });
  }
  return new UpdateError('ERR_HTTP', `failed to fetch ${url}`, { cause: error });
}

export class HttpUpdateSource implements UpdateSource {
  private readonly client: Got;
  private readonly settings: HttpSettings;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(settings: HttpSettings, clock: Clock, random: () => number) {
    this.settings = settings;
    this.clock = clock;
    this.random = random;
    const agent = settings.proxy === null ? undefined : proxyAgents(settings.proxy);
    this.client = got.extend({
      timeout: { connect: settings.connectTimeoutMs, socket: settings.idleTimeoutMs },
      maxRedirects: settings.maxRedirects,
      decompress: false,
      ...(agent ? { agent } : {}),
      retry: {
        limit: settings.retries,
        methods: ['GET'],
        statusCodes: RETRY_STATUS,
        // got reads a delay of 0 as "do not retry", so a retry waits at least 1 ms.
        calculateDelay: ({ attemptCount, computedValue }) => (computedValue === 0 ? 0 : Math.max(1, backoffDelay(attemptCount, settings, random))),
      },
      hooks: { beforeRedirect: [(options, response) => refuseUnsafeRedirect(response.url, String(options.url))] },
    });
  }

  /** GETs a small document, refusing it once it grows past `cap` bytes (declared or not). */
  async fetchSmall(url: string, cap: number): Promise<Uint8Array> {
    const abort = new AbortController();
    const request = this.client.get(url, { responseType: 'buffer', signal: abort.signal, timeout: { request: this.settings.smallRequestDeadlineMs } });
    let tooLarge = false;
    void request.on('downloadProgress', ({ transferred, total }: { transferred: number; total?: number }) => {
      if (transferred > cap || (total !== undefined && total > cap)) {
        tooLarge = true;
        abort.abort();
      }
    });
    try {
      const response = await request;
      if (response.rawBody.length > cap) tooLarge = true;
      if (!tooLarge) return response.rawBody;
    } catch (error) {
      if (!tooLarge) throw asUpdateError(error, url);
    }
    throw new UpdateError('ERR_HTTP_TOO_LARGE', `${url} is larger than the ${cap}-byte limit; refusing it`);
  }

  /** The payload at `url` as a PayloadSource: each open retries with backoff, then asks for a Range. */
  payloadSource(url: string): PayloadSource {
    return {
      open: async (offset, end) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await this.openRange(url, offset, end);
          } catch (error) {
            const failure = asUpdateError(error, url);
            const status = error instanceof RequestError ? error.response?.statusCode : undefined;
            const retryable = failure.code === 'ERR_HTTP_TIMEOUT' || (failure.code === 'ERR_HTTP' && (status === undefined || RETRY_STATUS.includes(status)));
            if (!retryable || attempt > this.settings.retries) throw failure;
            await this.clock.sleep(backoffDelay(attempt, this.settings, this.random));
          }
        }
      },
    };
  }

  private async openRange(url: string, offset: number, end?: number): Promise<{ start: number; body: AsyncIterable<Uint8Array> }> {
    const range = end !== undefined ? `bytes=${offset}-${end - 1}` : offset > 0 ? `bytes=${offset}-` : null;
    // Headers that do not come within a rate window would not keep the rate either.
    const stream = this.client.stream(url, { headers: range === null ? {} : { range }, retry: { limit: 0 }, timeout: { response: this.settings.rateWindowMs } });
    const floor = new RateFloor(this.settings, () => this.clock.now().getTime(), `payload transfer from ${url}`);
    const response = await new Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    if (response.statusCode === 206) {
      const range = /^bytes (\d+)-/.exec(String(response.headers['content-range'] ?? ''));
      if (!range?.[1]) {
        stream.destroy();
        throw new UpdateError('ERR_HTTP', `${url} answered 206 without a usable Content-Range`);
      }
      return { start: Number(range[1]), body: metered(stream, floor) };
    }
    return { start: 0, body: metered(stream, floor) };
  }
}

/**
 * The body, each piece counted against the rate floor as it is taken: a transfer below it ends with
 * ERR_TRANSFER_TOO_SLOW itself (not resumable: the next connection is most likely as slow). `destroy`
 * ends a read waiting on the connection, as the payload writer asks of a body.
 */
function metered(stream: AsyncIterable<Uint8Array> & { destroy(): void }, floor: RateFloor): AsyncIterable<Uint8Array> & { destroy(): void } {
  return {
    destroy: () => stream.destroy(),
    async *[Symbol.asyncIterator]() {
      try {
        for await (const piece of stream) {
          floor.add(piece.length);
          yield piece;
        }
      } finally {
        stream.destroy();
      }
    },
  };
}

export function refuseUnsafeRedirect(from: string, to: string): void {
  const target = new URL(to);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new UpdateError('ERR_HTTP_REDIRECT_REFUSED', `refusing redirect from ${from} to ${to}: only http and https are allowed`);
  }
  if (new URL(from).protocol === 'https:' && target.protocol === 'http:') {
    throw new UpdateError('ERR_HTTP_REDIRECT_REFUSED', `refusing redirect from ${from} to ${to}: https must not fall back to http`);
  }
}

/** Node 24's agents route through a proxy given as proxyEnv; no extra library needed. */
function proxyAgents(proxy: string): { http: HttpAgent; https: HttpsAgent } {
  const proxyEnv = { HTTP_PROXY: proxy, HTTPS_PROXY: proxy };
  return { http: new HttpAgent({ proxyEnv }), https: new HttpsAgent({ proxyEnv }) };
}
