// The names of the agent's D-Bus contract, shared by the service that exports it and the CLI's client.

export const BUS_NAME = 'org.slipway.Agent1';
export const OBJECT_PATH = '/org/slipway/Agent1';
export const INTERFACE = 'org.slipway.Agent1';
/** D-Bus error names are this prefix and the agent's error code: org.slipway.Agent1.Error.ERR_DOWNGRADE_REFUSED. */
export const ERROR_PREFIX = `${INTERFACE}.Error.`;
