// Prints the VM suite's per-scenario timing table at the end of a run that included test/vm files:
// each scenario's own time, each file's total (its images, boots and teardown included), and the
// wall time from the first VM file's start to the end (two of the files run side by side).

import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const isVm = (module: TestModule): boolean => /(^|\/)test\/vm\//.test(relative(process.cwd(), module.moduleId));
const seconds = (ms: number): string => `${(ms / 1000).toFixed(0).padStart(5)} s`;

export default class VmTimingReporter implements Reporter {
  private firstVmStart: number | null = null;

  onTestModuleStart(module: TestModule): void {
    if (this.firstVmStart === null && isVm(module)) this.firstVmStart = Date.now();
  }

  onTestRunEnd(testModules: readonly TestModule[]): void {
    const vm = testModules.filter(isVm);
    if (vm.length === 0) return;
    const lines = ['', 'VM suite, per scenario:'];
    for (const module of vm) {
      const file = relative(process.cwd(), module.moduleId);
      const duration = module.diagnostic().duration;
      lines.push(`  ${file.padEnd(68)} ${seconds(duration)}  (whole file)`);
      for (const test of module.children.allTests()) {
        const result = test.result();
        const took = test.diagnostic()?.duration ?? 0;
        lines.push(`    ${(result.state === 'passed' ? 'ok' : result.state).padEnd(7)}${test.name.slice(0, 62).padEnd(62)} ${seconds(took)}`);
      }
    }
    lines.push(`  ${'wall time, first VM file start to end'.padEnd(68)} ${seconds(Date.now() - (this.firstVmStart ?? Date.now()))}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
