// Runs the real `slipway` command (agent/main.ts on this Node) as a separate process, the way an
// operator would, and collects its exit code and output.

import { execFile } from 'node:child_process';

export interface SlipwayRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `uid` runs it as another user (and that user's primary group), for permission tests. */
export function runSlipway(args: readonly string[], options: { env?: NodeJS.ProcessEnv; stdin?: string; uid?: number } = {}): Promise<SlipwayRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['agent/main.ts', ...args], { env: options.env ?? process.env, ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }) }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
    if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  });
}
