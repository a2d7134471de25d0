import { describe, expect, it } from 'vitest';
import { addressesFromEnvironment, substituteAddresses } from './host-addresses.ts';

describe('substituteAddresses', () => {
  it('replaces every use, keeps an escaped one as the literal name, and lists names without a value', () => {
    const text = 'a: $private_ipv4:2379,$private_ipv4\nb: \\$public_ipv4 $public_ipv6\nc: $private_ipv4x';
    expect(substituteAddresses(text, { private_ipv4: '10.0.0.7' })).toEqual({
      text: 'a: 10.0.0.7:2379,10.0.0.7\nb: $public_ipv4 \nc: 10.0.0.7x',
      missing: ['public_ipv6'],
    });
  });

  it('leaves other dollar words alone', () => {
    expect(substituteAddresses('$HOME $public_ip $private_ipv5', { public_ipv4: '1.2.3.4' })).toEqual({ text: '$HOME $public_ip $private_ipv5', missing: [] });
  });
});

describe('addressesFromEnvironment', () => {
  it('reads COREOS_PUBLIC_IPV4 and the like, and only addresses', () => {
    expect(addressesFromEnvironment({ COREOS_PUBLIC_IPV4: '203.0.113.1', COREOS_PRIVATE_IPV6: 'fd00::1', COREOS_PRIVATE_IPV4: '10.0.0.1\nhostname: evil', COREOS_PUBLIC_IPV6: '' })).toEqual({
      public_ipv4: '203.0.113.1',
      private_ipv6: 'fd00::1',
    });
  });
});
