// Runs a host tool (blkid, mtools, xorriso, useradd) without a shell, with a cap on its output and
// the secret-free argument list kept for error messages.

import { CloudConfigError } from './cloud-config-errors.ts';
import { execFile } from 'node:child_process';

export interface ToolResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs `file args…`; resolves with the exit code (never throws for a non-zero exit), rejects when it cannot start or floods its output. */
export function runTool(file: string, args: readonly string[], options: { maxOutputBytes?: number; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { encoding: 'buffer', maxBuffer: options.maxOutputBytes ?? 1024 * 1024, ...(options.env ? { env: options.env } : {}) }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new CloudConfigError('ERR_TOOL', `cannot run ${file}: ${error.message}`, { cause: error }));
        return;
      }
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr: stderr.toString('utf8').trim() });
    });
    // A tool may exit without reading its input; that shows in its exit code, not as EPIPE here.
    child.stdin?.on('error', () => undefined);
    if (options.stdin === undefined) child.stdin?.end();
    else child.stdin?.end(options.stdin);
  });
}
