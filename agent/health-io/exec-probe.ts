// A command probe attempt: the argv run without a shell, passed on exit status 0; killed (SIGKILL)
// when it outlives its timeout, which fails it.

import { spawn } from 'node:child_process';
import type { ExecProbe, ProbeOutcome } from '../health/health-ports.ts';

export function runExecProbe(probe: ExecProbe): Promise<ProbeOutcome> {
  const [file = '', ...args] = probe.exec.command;
  const { timeoutSeconds } = probe.exec;
  return new Promise((resolve) => {
    let tail = '';
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    let timedOut = false;
    child.stderr.on('data', (chunk: Buffer) => {
      tail = `${tail}${chunk.toString('utf8')}`.slice(-200);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `${file}: ${error.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const said = tail.trim() === '' ? '' : `: ${tail.trim().split('\n').at(-1) ?? ''}`;
      if (timedOut) resolve({ ok: false, detail: `${file}: killed after ${timeoutSeconds} s without exiting` });
      else if (code === 0) resolve({ ok: true, detail: `${file}: exit status 0` });
      else resolve({ ok: false, detail: `${file}: ${signal === null ? `exit status ${code}` : `killed by ${signal}`}${said}` });
    });
  });
}
