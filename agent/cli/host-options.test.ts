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

  it('stops at the command: the same words after it are the command\'s', () => {
    expect(splitHostOptions(['status', '--config-dir', '/a'])).toEqual({ options: {}, rest: ['status', '--config-dir', '/a'] });
    expect(splitHostOptions([])).toEqual({ options: {}, rest: [] });
  });

  it('refuses one without its value as a usage error', () => {
    expect(() => splitHostOptions(['--os-release'])).toThrow(expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining('--os-release needs a value') as unknown }));
    expect(() => splitHostOptions(['--config-dir='])).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });
});
