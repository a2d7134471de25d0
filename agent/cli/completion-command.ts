// `slipway completion bash`: a bash completion script for the commands, their subcommands and
// options, generated from one table so it cannot drift far from the parsers.

import { UsageError } from './cli-error.ts';
import type { CliIo } from './io.ts';

/** Each command with its subcommands (first word) and options. */
export const COMPLETIONS: Readonly<Record<string, { readonly sub?: readonly string[]; readonly options: readonly string[] }>> = {
  status: { options: ['--json', '--help'] },
  check: { options: ['--json', '--help'] },
  update: { options: ['--now', '--ignore-inhibitors', '--json', '--help', '--once', '--server', '--channel', '--keyring', '--disk', '--state-dir', '--current-version', '--booted', '--arch', '--board', '--tries', '--max-clock-skew', '--chooser', '--grubenv'] },
  plan: { options: ['--json', '--help'] },
  pin: { options: ['--json', '--help'] },
  unpin: { options: ['--json', '--help'] },
  unskip: { options: ['--json', '--help'] },
  rollback: { options: ['--reboot', '--ignore-inhibitors', '--json', '--help'] },
  agent: { options: ['--help'] },
  config: { sub: ['show'], options: ['--json', '--help'] },
  slots: { sub: ['stage', 'mark-good', 'mark-unbootable', 'rollback'], options: ['--disk', '--json', '--booted', '--tries', '--chooser', '--grubenv', '--sector-size', '--help'] },
  units: { options: ['--json', '--help'] },
  verify: { sub: ['USR-A', 'USR-B'], options: ['--disk', '--grubenv', '--chooser', '--booted', '--sector-size', '--json', '--help'] },
  lock: { sub: ['status', 'acquire', 'unlock', 'set-max'], options: ['--etcd', '--group', '--ttl', '--json', '--etcd-cafile', '--etcd-certfile', '--etcd-keyfile', '--etcd-username', '--etcd-password', '--help'] },
  fleet: { sub: ['status', 'halt', 'resume', 'serve'], options: ['--json', '--quiet-after', '--reason', '--listen', '--public', '--allow-host', '--etcd', '--group', '--etcd-cafile', '--etcd-certfile', '--etcd-keyfile', '--etcd-username', '--etcd-password', '--help'] },
  release: { sub: ['keygen', 'publish'], options: ['--out', '--name', '--email', '--expires', '--image', '--version', '--channel', '--key', '--arch', '--board', '--rollout', '--rollout-start', '--waves', '--no-verity', '--help'] },
  'cloud-config': { sub: ['validate', 'apply'], options: ['--json', '--from-file', '--from-configdrive', '--configdrive-device', '--from-cmdline', '--root', '--first-boot', '--help'] },
  completion: { sub: ['bash'], options: ['--help'] },
  version: { options: [] },
};

export function bashCompletion(): string {
  const cases = Object.entries(COMPLETIONS)
    .map(([command, { sub, options }]) => `    ${command}) words="${[...(sub ?? []), ...options].join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for slipway; load with: source <(slipway completion bash)
_slipway() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${Object.keys(COMPLETIONS).join(' ')}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _slipway slipway
`;
}

export function runCompletion(argv: readonly string[], io: CliIo): number {
  if (argv[0] === '--help' || argv[0] === '-h') {
    io.stdout('usage: slipway completion bash\nPrints a bash completion script: source <(slipway completion bash)\n');
    return 0;
  }
  if (argv.length !== 1 || argv[0] !== 'bash') throw new UsageError('usage: slipway completion bash');
  io.stdout(bashCompletion());
  return 0;
}
