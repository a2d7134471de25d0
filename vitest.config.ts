// Test runner settings: unit tests beside the code, integration suites under test/.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['agent/**/*.test.ts', 'images/**/*.test.ts', 'cloud-config/**/*.test.ts', 'qemu/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    globalSetup: ['./test/vm-run-images.ts'],
    reporters: ['default', './test/vm-timing-reporter.ts', './test/summary-reporter.ts'],
  },
});
