// An HTTP probe attempt: one GET (node:http or node:https, no redirects followed), passed when the
// status is in the probe's range; a timeout covers the whole exchange and aborts it.

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HttpProbe, ProbeOutcome } from '../health/health-ports.ts';

export function runHttpProbe(probe: HttpProbe): Promise<ProbeOutcome> {
  const { url, status, timeoutSeconds } = probe.http;
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', signal: AbortSignal.timeout(timeoutSeconds * 1000) }, (response) => {
      // The body is not needed; reading it lets the connection close.
      response.resume();
      const code = response.statusCode ?? 0;
      response.on('end', () => resolve({ ok: code >= status.low && code <= status.high, detail: `HTTP ${code} from ${url}` }));
      response.on('error', (error) => resolve({ ok: false, detail: `${url}: ${error.message}` }));
    });
    req.on('error', (error) => {
      const timedOut = error.name === 'AbortError' || error.name === 'TimeoutError';
      resolve({ ok: false, detail: timedOut ? `${url}: no answer within ${timeoutSeconds} s` : `${url}: ${error.message}` });
    });
    req.end();
  });
}
