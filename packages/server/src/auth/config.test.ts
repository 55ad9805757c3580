import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { safeReturnPath } from './return-path.js';

const OIDC = {
  OIDC_ISSUER: 'https://login.example.com/realms/optics/',
  OIDC_CLIENT_ID: 'speos-portal',
  SESSION_SECRET: 'x'.repeat(32),
};

describe('sign-in settings', () => {
  it('are off by default: no OIDC, the portal stays open', () => {
    const { auth } = loadConfig({});
    expect(auth.oidc).toBeUndefined();
    expect(auth.adminUsers).toEqual([]);
  });

  it('read OIDC, sessions and admins with their defaults', () => {
    const { auth } = loadConfig({ ...OIDC, ADMIN_USERS: 'ops@example.com, robot', OIDC_ADMIN_GROUPS: 'portal-admins' });
    expect(auth).toEqual({
      oidc: {
        issuer: 'https://login.example.com/realms/optics',
        clientId: 'speos-portal',
        clientSecret: undefined,
        scopes: 'openid profile email',
        groupsClaim: 'groups',
        adminGroups: ['portal-admins'],
      },
      sessionSecret: 'x'.repeat(32),
      sessionIdleMinutes: 480,
      sessionMaxHours: 24,
      adminUsers: ['ops@example.com', 'robot'],
    });
    const custom = loadConfig({
      ...OIDC,
      OIDC_SCOPES: 'openid,profile email groups',
      OIDC_GROUPS_CLAIM: 'realm_access.roles',
      OIDC_CLIENT_SECRET: 's3cret',
      SESSION_IDLE_MINUTES: '30',
      SESSION_MAX_HOURS: '8',
    }).auth;
    expect(custom.oidc).toMatchObject({
      scopes: 'openid profile email groups',
      groupsClaim: 'realm_access.roles',
      clientSecret: 's3cret',
    });
    expect(custom).toMatchObject({ sessionIdleMinutes: 30, sessionMaxHours: 8 });
    // http:// is for a provider on this machine only.
    expect(loadConfig({ ...OIDC, OIDC_ISSUER: 'http://127.0.0.1:9000' }).auth.oidc?.issuer).toBe(
      'http://127.0.0.1:9000',
    );
  });

  it.each([
    [{ ...OIDC, OIDC_ISSUER: 'http://login.example.com' }, 'OIDC_ISSUER: must be an https:// URL'],
    [{ ...OIDC, OIDC_ISSUER: 'login.example.com' }, 'OIDC_ISSUER: not a URL'],
    [{ ...OIDC, OIDC_CLIENT_ID: '' }, 'OIDC_CLIENT_ID: is required with OIDC_ISSUER'],
    [{ ...OIDC, SESSION_SECRET: '' }, 'SESSION_SECRET: is required with OIDC_ISSUER'],
    [{ ...OIDC, SESSION_SECRET: 'short' }, 'SESSION_SECRET: must be at least 32 characters'],
    [{ ...OIDC, OIDC_SCOPES: 'profile email' }, 'OIDC_SCOPES: must include "openid"'],
    [{ ...OIDC, OIDC_GROUPS_CLAIM: 'has space' }, 'OIDC_GROUPS_CLAIM: "has space" is not a claim name'],
    [{ ...OIDC, SESSION_IDLE_MINUTES: '0' }, 'SESSION_IDLE_MINUTES: must be between 1'],
    [
      { ...OIDC, SESSION_MAX_HOURS: '1', SESSION_IDLE_MINUTES: '120' },
      'SESSION_IDLE_MINUTES: must not be longer than SESSION_MAX_HOURS',
    ],
    [{ OIDC_CLIENT_ID: 'speos-portal' }, 'OIDC_ISSUER: is required when OIDC_CLIENT_ID is set'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('safeReturnPath', () => {
  it('keeps paths on this portal, hash routes included', () => {
    expect(safeReturnPath(undefined)).toBe('/');
    expect(safeReturnPath('/#/tasks/abc?x=1')).toBe('/#/tasks/abc?x=1');
    expect(safeReturnPath('/api/docs')).toBe('/api/docs');
  });

  it.each([
    '//evil.example',
    '/\\evil.example',
    '\\\\evil',
    'https://evil.example',
    'evil',
    '/\t/evil',
    '/\n/evil',
    `/${'a'.repeat(2001)}`,
  ])('refuses %j', (raw) => {
    expect(safeReturnPath(raw)).toBeUndefined();
  });
});
