// `slipway cloud-config validate` as users run it: a file or stdin, exit 0 with warnings only,
// exit 1 with any error, and --json.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../builders/coreos-disk.ts';
import type { TempDir } from '../builders/coreos-disk.ts';
import { runSlipway } from '../builders/run-slipway.ts';

let dir: TempDir;
beforeAll(async () => {
  dir = await tempDir();
});
afterAll(async () => {
  await dir.remove();
});

function validate(args: string[], stdin?: string): Promise<{ code: number; stdout: string }> {
  return runSlipway(['cloud-config', 'validate', ...args], stdin === undefined ? {} : { stdin }).then(({ code, stdout }) => ({ code, stdout }));
}

describe('slipway cloud-config validate', () => {
  it('exits 0 with warnings only', async () => {
    const file = join(dir.path, 'ok.yaml');
    await writeFile(file, '#cloud-config\nhostname: a\nhostnam: b\n');
    expect(await validate([file])).toEqual({ code: 0, stdout: 'line 3: warning: unknown key "hostnam"; did you mean "hostname"?\n' });
  });

  it('exits 1 with an error, reading stdin, and speaks JSON', async () => {
    const result = await validate(['-', '--json'], '#cloud-config\ncoreos:\n  units:\n    - name: x\n');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({
      kind: 'cloud-config',
      valid: false,
      problems: [{ line: 4, severity: 'error', message: 'coreos.units[0].name: "x" is not a systemd unit name (like app.service)' }],
    });
  });
});
