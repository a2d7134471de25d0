// The SystemdBus port: what cloud-config asks of the service manager (reload, enable, start and the
// like, and the state of units), in systemd's own vocabulary but free of any D-Bus type.

export const UNIT_COMMANDS = ['start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart'] as const;
export type UnitCommand = (typeof UNIT_COMMANDS)[number];

/** How a job ended, as systemd's JobRemoved reports it: done, canceled, timeout, failed, dependency, skipped. */
export type JobResult = string;

export interface SystemdBus {
  reload(): Promise<void>;
  /** enabled, enabled-runtime, disabled, static, masked, … or "" when systemd has no such unit file. */
  unitFileState(name: string): Promise<string>;
  enable(names: readonly string[], runtime: boolean): Promise<void>;
  /** active, inactive, failed, activating, … ("inactive" for a unit systemd has not loaded). */
  activeState(name: string): Promise<string>;
  /** Queues the job (mode "replace") and waits for it to finish. */
  run(command: UnitCommand, name: string): Promise<JobResult>;
}
