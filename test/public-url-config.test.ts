import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config/config';

describe('QUBINODE_PUBLIC_URL: the origin browsers reach the API at', () => {
  it('keeps only the origin, in canonical form', () => {
    const origin = (value: string): string | undefined => loadConfig({ QUBINODE_PUBLIC_URL: value }).api.publicOrigin;
    assert.equal(origin('https://navigator.example.org'), 'https://navigator.example.org');
    assert.equal(origin('HTTPS://Navigator.Example.ORG:443/'), 'https://navigator.example.org');
    assert.equal(origin('http://127.0.0.1:8788'), 'http://127.0.0.1:8788');
    assert.equal(loadConfig({}).api.publicOrigin, undefined);
  });

  it('refuses at start-up anything that is not a plain http(s) origin, naming the variable', () => {
    const hostile = [
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'ftp://navigator.example.org',
      'https://navigator.example.org\r\nSet-Cookie: qubinode_session=stolen',
      'https://navigator.example.org Set-Cookie: x=1',
      'https://admin:hunter2@navigator.example.org',
      'https://attacker.example@navigator.example.org',
      'https://navigator.example.org/ui',
      'https://navigator.example.org/%2e%2e/',
      'https://navigator.example.org?next=https://attacker.example',
      'https://navigator.example.org#frag',
      'https://navigator.example.org:99999',
      '//navigator.example.org',
      'navigator.example.org',
      '',
      `https://${'a'.repeat(2100)}.example.org`,
    ];
    for (const value of hostile) {
      assert.throws(
        () => loadConfig({ QUBINODE_PUBLIC_URL: value }),
        (error: unknown) => error instanceof ConfigError && /QUBINODE_PUBLIC_URL/.test(error.message) && !error.message.includes('hunter2'),
        JSON.stringify(value.slice(0, 60)),
      );
    }
  });
});
