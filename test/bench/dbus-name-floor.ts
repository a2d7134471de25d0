// The floor of the agent's start and idle cost: a Node process that connects to the system bus with
// dbus-next, owns one name and does nothing else. The start benchmark bundles it like the agent and
// measures both the same way, so its table shows what is Node's and dbus-next's and what is ours.

import dbus from 'dbus-next';

const name = process.argv[2] ?? 'org.slipway.BenchFloor1';
const bus = dbus.systemBus();
const reply = await bus.requestName(name, dbus.NameFlag.DO_NOT_QUEUE);
if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new Error(`cannot own ${name}`);
process.once('SIGTERM', () => {
  bus.disconnect();
  process.exit(0);
});
