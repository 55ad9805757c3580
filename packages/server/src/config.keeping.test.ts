/** The retention, quota and notification settings (issue 17): defaults, and bad values named. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const load = (env: Record<string, string>) => loadConfig(env, '/tmp').keeping;

describe('retention, quota and notification settings', () => {
  it('are off by default', () => {
    expect(load({})).toEqual({
      userQuotaBytes: undefined,
      filesRetentionDays: undefined,
      logRetentionDays: undefined,
      retentionIntervalSeconds: 3600,
      webhookUrls: [],
      webhookSecret: undefined,
      smtpUrl: undefined,
      notifyFrom: 'speos-portal <speos-portal@localhost>',
      notifyGiveUpHours: 24,
      notifyIntervalSeconds: 5,
    });
  });

  it('take fractional days, URLs as given, and an SMTP URL', () => {
    const keeping = load({
      USER_QUOTA_BYTES: '10737418240',
      FILES_RETENTION_DAYS: '0.5',
      LOG_RETENTION_DAYS: '30',
      NOTIFY_WEBHOOK_URLS: 'https://a.example.com/hook/, http://b.example.com:9000/x',
      NOTIFY_WEBHOOK_SECRET: '0123456789abcdef',
      SMTP_URL: 'smtps://user:pw@mail.example.com:465',
    });
    expect(keeping).toMatchObject({
      userQuotaBytes: 10737418240,
      filesRetentionDays: 0.5,
      logRetentionDays: 30,
      webhookUrls: ['https://a.example.com/hook/', 'http://b.example.com:9000/x'],
      smtpUrl: 'smtps://user:pw@mail.example.com:465',
    });
  });

  it.each([
    ['USER_QUOTA_BYTES', '10GB'],
    ['USER_QUOTA_BYTES', '0'],
    ['FILES_RETENTION_DAYS', '-1'],
    ['FILES_RETENTION_DAYS', 'a week'],
    ['LOG_RETENTION_DAYS', '0'],
    ['RETENTION_INTERVAL_SECONDS', '0'],
    ['NOTIFY_WEBHOOK_URLS', 'ftp://x.example.com'],
    ['NOTIFY_WEBHOOK_SECRET', 'short'],
    ['SMTP_URL', 'http://mail.example.com'],
    ['NOTIFY_FROM', 'nobody'],
    ['NOTIFY_GIVE_UP_HOURS', 'never'],
  ])('refuses %s=%s naming the variable', (name, value) => {
    let error: unknown;
    try {
      load({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
  });
});
