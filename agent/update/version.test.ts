// Version ordering: the cases THREATS.md names and semver's precedence examples.

import { describe, expect, it } from 'vitest';
import { compareVersions } from './version.ts';

describe('compareVersions', () => {
  it.each([
    ['1.10', '1.9'],
    ['1.0.1', '1.0.0'],
    ['3510.2.1', '3510.2.0'],
    ['2.0.0', '1.99.99'],
    ['1.0.0', '1.0.0-rc.1'],
    ['1.0.0-rc.2', '1.0.0-rc.1'],
    ['1.0.0-rc.10', '1.0.0-rc.9'],
    ['1.0.0-beta', '1.0.0-alpha.1'],
    ['1.0.0-alpha.beta', '1.0.0-alpha.1'],
    ['1.0.0-alpha.1', '1.0.0-alpha'],
    ['1.0.1', '1.0'],
  ])('%s > %s', (newer, older) => {
    expect(compareVersions(newer, older)).toBeGreaterThan(0);
    expect(compareVersions(older, newer)).toBeLessThan(0);
  });

  it.each([
    ['1.0.0', '1.0.0'],
    ['1.0', '1.0.0'],
    ['1.0.0+build.5', '1.0.0+build.7'],
  ])('%s == %s', (a, b) => {
    expect(compareVersions(a, b)).toBe(0);
  });
});
