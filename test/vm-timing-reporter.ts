// Prints the VM suite's per-scenario timing table at the end of a run that included test/vm files:
// each scenario's own time, and each file's total (its images, boots and teardown included).

import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const seconds = (ms: number): string => `${(ms / 1000).toFixed(0).padStart(5)} s`;

export default class VmTimingReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[]): void {
    const vm = testModules.filter((m) => /(^|\/)test\/vm\//.test(relative(process.cwd(), m.moduleId)));
    if (vm.length === 0) return;
    const lines = ['', 'VM suite, per scenario:'];
    let total = 0;
    for (const module of vm) {
      const file = relative(process.cwd(), module.moduleId);
      const duration = module.diagnostic().duration;
      total += duration;
      lines.push(`  ${file.padEnd(68)} ${seconds(duration)}  (whole file)`);
      for (const test of module.children.allTests()) {
        const result = test.result();
        const took = test.diagnostic()?.duration ?? 0;
        lines.push(`    ${(result.state === 'passed' ? 'ok' : result.state).padEnd(7)}${test.name.slice(0, 62).padEnd(62)} ${seconds(took)}`);
      }
    }
    lines.push(`  ${'sum of the files (one at a time: the wall time)'.padEnd(68)} ${seconds(total)}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
