// What the composition root takes from the process and hands to the wiring: time, randomness, the
// proxy and host name, the logger and the standard streams. Only agent/main.ts builds one.

import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../log.ts';

export interface ProcessHost {
  readonly version: string;
  readonly clock: Clock;
  readonly random: () => number;
  /** https_proxy, for the update path's HTTP client. */
  readonly proxy: string | null;
  /** DBUS_SYSTEM_BUS_ADDRESS, or null for the default socket: named in errors when the bus cannot be reached. */
  readonly systemBusAddress: string | null;
  readonly hostname: () => string;
  /** The environment's COREOS_* variables (COREOS_PUBLIC_IPV4 …), which cloud-config's $public_ipv4 and the like fall back to. */
  readonly coreosEnvironment: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly isTty: boolean;
  /** Runs `stop` when the service manager asks the process to end. */
  readonly onSigterm: (stop: () => void) => void;
  readonly exit: (code: number) => never;
}
