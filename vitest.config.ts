// Test runner settings: unit tests beside the code, integration suites under test/, and the VM suites
// in two groups that run one after the other. Everything in a VM is TCG emulation on two cores: one VM
// leaves about a quarter of the host idle (its agent and boot are partly single-threaded), so the two
// one-VM files share the machine; the three-VM fleet file runs alone after them (beside another VM
// every step ran 4-5 times slower and it timed out).
import { defineConfig } from 'vitest/config';

const VM_PAIR = ['test/vm/update.test.ts', 'test/vm/power-cut.test.ts'];
const VM_FLEET = ['test/vm/fleet.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    globalSetup: ['./test/vm-run-images.ts'],
    reporters: ['default', './test/vm-timing-reporter.ts', './test/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['agent/**/*.test.ts', 'platform/**/*.test.ts', 'images/**/*.test.ts', 'cloud-config/**/*.test.ts', 'qemu/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/vm/**'],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: 'vm', include: VM_PAIR, maxWorkers: 2, sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'vm-fleet', include: VM_FLEET, maxWorkers: 1, sequence: { groupOrder: 2 } } },
    ],
  },
});
