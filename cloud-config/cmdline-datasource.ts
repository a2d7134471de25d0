// Datasource adapter for `cloud-config-url=` on the kernel command line: fetched over HTTP(S) with
// retries and backoff, but never for longer than a bounded total wait, so a dead URL only delays boot.

import { errorCode } from '../platform/coded-error.ts';
import { jitteredBackoff } from '../platform/backoff.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import type { Clock } from '../platform/clock.ts';
import type { Datasource, DatasourceLog, UserData } from './datasource.ts';

export interface CmdlineSettings {
  /** Reads the kernel command line (/proc/cmdline). */
  readonly readCmdline: () => Promise<string>;
  /** One GET with its own timeout and a size cap; throws on failure. */
  readonly fetch: (url: string) => Promise<Uint8Array>;
  readonly clock: Clock;
  readonly random: () => number;
  /** The longest this datasource may delay boot, all attempts and waits included. */
  readonly maxWaitMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly log: DatasourceLog;
}

/** The value of the last `cloud-config-url=` parameter (the kernel's rule: the last one wins), or null. */
export function cloudConfigUrl(cmdline: string): string | null {
  let url: string | null = null;
  for (const word of cmdline.trim().split(/\s+/)) if (word.startsWith('cloud-config-url=')) url = word.slice('cloud-config-url='.length);
  return url;
}

export class CmdlineDatasource implements Datasource {
  readonly name = 'cmdline cloud-config-url';
  private readonly settings: CmdlineSettings;

  constructor(settings: CmdlineSettings) {
    this.settings = settings;
  }

  async read(): Promise<UserData | null> {
    const { clock, maxWaitMs } = this.settings;
    const url = cloudConfigUrl(await this.settings.readCmdline());
    if (url === null) return null;
    if (!/^https?:\/\//.test(url)) throw new CloudConfigError('ERR_DATASOURCE', `cloud-config-url=${url} on the kernel command line is not an http or https URL`);
    const deadline = clock.now().getTime() + maxWaitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return { origin: url, text: Buffer.from(await this.settings.fetch(url)).toString('utf8') };
      } catch (error) {
        const left = deadline - clock.now().getTime();
        const wait = Math.min(left, 1 + jitteredBackoff(attempt, this.settings.backoffBaseMs, this.settings.backoffMaxMs, this.settings.random));
        if (left <= 0 || errorCode(error) === 'ERR_HTTP_TOO_LARGE') {
          throw new CloudConfigError('ERR_DATASOURCE', `gave up fetching ${url} after ${attempt + 1} attempts in ${Math.round((maxWaitMs - left) / 1000)} s`, { cause: error });
        }
        this.settings.log({ url, attempt: attempt + 1, err: error }, `fetching cloud-config failed; retrying in ${Math.round(wait)} ms`);
        await clock.sleep(wait);
      }
    }
  }
}
