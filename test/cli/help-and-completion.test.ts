// Every command answers --help with its usage and exit 0, and the bash completion script offers
// each command and its options when bash itself completes a line with it.

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { COMPLETIONS } from '../../agent/cli/completion-command.ts';
import { runSlipway } from '../builders/run-slipway.ts';

const COMMANDS = Object.keys(COMPLETIONS).filter((c) => c !== 'version');

describe('--help on every command', () => {
  it.each(COMMANDS)('slipway %s --help', async (command) => {
    const result = await runSlipway([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage:/);
  });
});

describe('bash completion', () => {
  it('completes commands and options in a real bash', async () => {
    const script = (await runSlipway(['completion', 'bash'])).stdout;
    const complete = (line: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const words = line.split(' ');
        const program = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _slipway; echo "\${COMPREPLY[*]}"`;
        execFile('bash', ['-c', program], (error, stdout) => {
          if (error) reject(new Error(`bash failed: ${error.message}`));
          else resolve(stdout.trim());
        });
      });
    expect(await complete('slipway st')).toBe('status');
    expect(await complete('slipway uns')).toBe('unskip');
    expect(await complete('slipway rollback --r')).toBe('--reboot');
    expect(await complete('slipway cloud-config a')).toBe('apply');
  });
});
