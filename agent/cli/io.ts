// What a subcommand may touch of the process: its output streams and the host's files. Injected so
// that tests run commands in-process.

import type { HostPaths } from '../slots/boot-disk.ts';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly host: HostPaths;
}
