/** The production backends' variables: STORAGE=s3 with S3_*, DATABASE_URL, the expiry interval. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const s3 = { STORAGE: 's3', S3_BUCKET: 'speos-uploads' };

describe('loadConfig: S3 and PostgreSQL', () => {
  it('reads the S3 settings only when STORAGE=s3', () => {
    expect(loadConfig({ S3_BUCKET: 'ignored' }).s3).toBeUndefined();
    expect(
      loadConfig({
        ...s3,
        S3_ENDPOINT: 'http://127.0.0.1:9000/',
        S3_PUBLIC_ENDPOINT: 'https://s3.example.com',
        S3_REGION: 'cn-beijing',
        S3_ACCESS_KEY_ID: 'AKIA123',
        S3_SECRET_ACCESS_KEY: 'secret',
        S3_FORCE_PATH_STYLE: 'true',
      }).s3,
    ).toEqual({
      endpoint: 'http://127.0.0.1:9000',
      publicEndpoint: 'https://s3.example.com',
      region: 'cn-beijing',
      bucket: 'speos-uploads',
      accessKeyId: 'AKIA123',
      secretAccessKey: 'secret',
      forcePathStyle: true,
    });
  });

  it('defaults to AWS: its endpoint, us-east-1, virtual-hosted style, the SDK credential chain', () => {
    expect(loadConfig(s3).s3).toEqual({
      endpoint: undefined,
      publicEndpoint: undefined,
      region: 'us-east-1',
      bucket: 'speos-uploads',
      accessKeyId: undefined,
      secretAccessKey: undefined,
      forcePathStyle: false,
    });
  });

  it.each([
    [{ STORAGE: 's3' }, 'S3_BUCKET: is required when STORAGE=s3'],
    [{ ...s3, S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET: "Bad_Bucket" is not a valid bucket name'],
    [{ ...s3, S3_ENDPOINT: 'minio:9000' }, 'S3_ENDPOINT: must start with http:// or https://'],
    [{ ...s3, S3_ENDPOINT: 'not a url' }, 'S3_ENDPOINT: not a URL'],
    [{ ...s3, S3_PUBLIC_ENDPOINT: 's3.example.com' }, 'S3_PUBLIC_ENDPOINT: not a URL'],
    [{ ...s3, S3_REGION: 'us east' }, 'S3_REGION: "us east" is not a region name'],
    [{ ...s3, S3_ACCESS_KEY_ID: 'AKIA' }, 'S3_SECRET_ACCESS_KEY: is required when S3_ACCESS_KEY_ID is set'],
    [{ ...s3, S3_SECRET_ACCESS_KEY: 'x' }, 'S3_ACCESS_KEY_ID: is required when S3_SECRET_ACCESS_KEY is set'],
    [{ ...s3, S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE: expected true or false'],
    [{ DATABASE_URL: 'mysql://db/portal' }, 'DATABASE_URL: expected postgres://'],
    [{ DATABASE_URL: 'postgres://user:pa ss@[bad/db' }, 'DATABASE_URL: is not a valid postgres://'],
    [{ UPLOAD_EXPIRY_INTERVAL_SECONDS: '0' }, 'UPLOAD_EXPIRY_INTERVAL_SECONDS: must be between 1'],
  ])('refuses %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('accepts postgres:// and postgresql:// URLs and keeps sqlite: ones', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://portal:pw@db:5432/portal' }).databaseUrl).toBe(
      'postgres://portal:pw@db:5432/portal',
    );
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/portal' }).databaseUrl).toBe('postgresql://db/portal');
    expect(loadConfig({ DATABASE_URL: 'sqlite:/srv/portal.db' }).databaseUrl).toBe('sqlite:/srv/portal.db');
    expect(loadConfig({}).databaseUrl).toBeUndefined();
  });

  it('does not echo a password from a bad DATABASE_URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' })).not.toThrow(/hunter2/);
  });
});
