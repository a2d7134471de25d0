// The UnitStates port read through `slipway units --json` wherever the command runs: here against a
// private bus, or in a VM through its guest agent against real systemd, so one contract covers both.

import type { UnitState, UnitStates } from '../../agent/health/health-ports.ts';
import type { UnitReport } from '../../agent/cli/units-command.ts';

/** Runs `slipway` with these arguments somewhere and gives back its exit code and output. */
export type RunSlipwayThere = (args: readonly string[]) => Promise<{ readonly code: number; readonly stdout: string; readonly stderr: string }>;

export function cliUnitStates(run: RunSlipwayThere): UnitStates {
  return {
    async unitState(name: string): Promise<UnitState> {
      const result = await run(['units', '--json', name]);
      if (result.code !== 0) throw new Error(`slipway units ${name} exited ${result.code}: ${result.stderr}`);
      const [report] = JSON.parse(result.stdout) as UnitReport[];
      if (report?.unit !== name) throw new Error(`slipway units ${name} answered ${result.stdout}`);
      return report.state;
    },
  };
}
