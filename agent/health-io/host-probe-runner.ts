// The ProbeRunner port on this host: HTTP probes over node:http(s), command probes as child processes.

import { runExecProbe } from './exec-probe.ts';
import { runHttpProbe } from './http-probe.ts';
import type { ProbeOutcome, ProbeRunner, ProbeSpec } from '../health/health-ports.ts';

export class HostProbeRunner implements ProbeRunner {
  run(probe: ProbeSpec): Promise<ProbeOutcome> {
    return 'http' in probe ? runHttpProbe(probe) : runExecProbe(probe);
  }
}
