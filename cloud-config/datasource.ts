// The Datasource port: where a host's user-data comes from (a file, a config-drive, a URL on the
// kernel command line), and the fixed-order choice of the first one present.

import { MAX_USER_DATA_BYTES } from './validate.ts';
import { CloudConfigError } from './cloud-config-errors.ts';
import type { HostAddresses } from './host-addresses.ts';

export interface UserData {
  /** Where it came from, for messages ("config-drive /dev/vdb"). */
  readonly origin: string;
  readonly text: string;
  /** The host's addresses where the datasource's metadata gives them, for $public_ipv4 and the like. */
  readonly addresses?: HostAddresses;
}

export interface Datasource {
  readonly name: string;
  /** The user-data, or null when this source is absent on this host. Throws when present but unreadable. */
  read(): Promise<UserData | null>;
}

export type DatasourceLog = (fields: Record<string, unknown>, message: string) => void;

/** What the datasources gave: the first user-data found, and every source that was present but failed. */
export interface DatasourceResult {
  readonly data: UserData | null;
  readonly failures: readonly { readonly source: string; readonly error: unknown }[];
}

/**
 * The first datasource that has user-data, in the given order. A broken one is reported and the next
 * one read; the caller learns of it, so "nothing found" and "nothing could be read" stay apart.
 */
export async function readFirstUserData(sources: readonly Datasource[], warn: DatasourceLog): Promise<DatasourceResult> {
  const failures: { source: string; error: unknown }[] = [];
  for (const source of sources) {
    try {
      const data = await source.read();
      if (data !== null) return { data, failures };
    } catch (error) {
      failures.push({ source: source.name, error });
      warn({ datasource: source.name, err: error }, `datasource ${source.name} is present but unreadable; trying the next one`);
    }
  }
  return { data: null, failures };
}

/** Refuses user-data over the size cap before anything parses it. */
export function checkUserDataSize(bytes: number, origin: string): void {
  if (bytes > MAX_USER_DATA_BYTES) throw new CloudConfigError('ERR_USER_DATA_TOO_LARGE', `user-data from ${origin} is ${bytes} bytes; the limit is ${MAX_USER_DATA_BYTES}`);
}

/** What `apply` reads from; the order they are tried in is fixed: file, config-drive, command line. */
export interface DatasourceRequest {
  readonly file: string | undefined;
  readonly configDrive: boolean;
  readonly configDriveDevice: string | undefined;
  readonly cmdline: boolean;
}
