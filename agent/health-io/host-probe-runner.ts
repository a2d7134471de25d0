// The ProbeRunner port on this host: HTTP probes over node:http(s), command probes as child
// processes, the verified-root probe from the root's device-mapper table; each adapter loaded at its first probe, so an agent without probes never loads them.

import type { ProbeOutcome, ProbeRunner, ProbeSpec } from '../health/health-ports.ts';

export class HostProbeRunner implements ProbeRunner {
  async run(probe: ProbeSpec): Promise<ProbeOutcome> {
    if ('http' in probe) return (await import('./http-probe.ts')).runHttpProbe(probe);
    if ('verity' in probe) {
      const view = await (await import('./verity-root-facts.ts')).inspectHostRoot(probe.verity.recorded);
      return { ok: view.verified, detail: view.detail };
    }
    return (await import('./exec-probe.ts')).runExecProbe(probe);
  }
}
