// The global options that point slipway at other host files, taken off the front of the arguments.

import { describe, expect, it } from 'vitest';
import { splitHostOptions } from './host-options.ts';

describe('global host options', () => {
  it('takes them off the front, in either spelling, config dirs in order', () => {
    expect(splitHostOptions(['--proc-cmdline', '/x/cmdline', '--config-dir=/a', '--os-release', '/x/os', '--config-dir', '/b', 'slots', '--disk', 'd.img'])).toEqual({
      options: { procCmdline: '/x/cmdline', osRelease: '/x/os', configDirs: ['/a', '/b'] },
      rest: ['slots', '--disk', 'd.img'],
    });
  });

  it('takes the running system\'s mountinfo and sysfs, and --booted as a slot name', () => {
    expect(splitHostOptions(['--proc-mountinfo', '/x/mountinfo', '--sysfs=/x/sys', '--booted', 'usr-b', 'slots'])).toEqual({
      options: { procMountinfo: '/x/mountinfo', sysfs: '/x/sys', booted: 'USR-B' },
      rest: ['slots'],
    });
    expect(() => splitHostOptions(['--booted', 'USR-C', 'slots'])).toThrow(expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining('"USR-C" is not a slot') as unknown }));
  });

  it('takes the machine id\'s file', () => {
    expect(splitHostOptions(['--machine-id', '/x/machine-id', 'status'])).toEqual({ options: { machineId: '/x/machine-id' }, rest: ['status'] });
  });

  it('stops at the command: the same words after it are the command\'s', () => {
    expect(splitHostOptions(['status', '--config-dir', '/a'])).toEqual({ options: {}, rest: ['status', '--config-dir', '/a'] });
    expect(splitHostOptions([])).toEqual({ options: {}, rest: [] });
  });

  it('refuses one without its value as a usage error', () => {
    expect(() => splitHostOptions(['--os-release'])).toThrow(expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining('--os-release needs a value') as unknown }));
    expect(() => splitHostOptions(['--config-dir='])).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });
});
