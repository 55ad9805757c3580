import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has embedded defaults', () => {
    const config = loadConfig({}, '/srv/portal');
    expect(config).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:8000',
      dataDir: '/srv/portal/data',
      storage: 'fs',
      maxFileSize: 524288000,
      chunkSize: 5242880,
      urlTtlSeconds: 3600,
      corsOrigins: '*',
      sqliteSynchronous: 'FULL',
    });
    expect(loadConfig({ SQLITE_SYNCHRONOUS: 'normal' }).sqliteSynchronous).toBe('NORMAL');
    expect(config.authTokens.size).toBe(0);
  });

  it('derives PUBLIC_URL from HOST and PORT, and strips a trailing slash from an explicit one', () => {
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicUrl).toBe('http://localhost:9000');
    expect(loadConfig({ PUBLIC_URL: 'https://portal.example/api/' }).publicUrl).toBe('https://portal.example/api');
  });

  it('parses AUTH_TOKENS and CORS_ORIGINS lists', () => {
    const config = loadConfig({
      AUTH_TOKENS: 'aaaaaaaaaaaaaaaa:alice, bbbbbbbbbbbbbbbb:bob',
      CORS_ORIGINS: 'http://a.example,https://b.example',
    });
    expect([...config.authTokens]).toEqual([
      ['aaaaaaaaaaaaaaaa', 'alice'],
      ['bbbbbbbbbbbbbbbb', 'bob'],
    ]);
    expect(config.corsOrigins).toEqual(['http://a.example', 'https://b.example']);
  });

  it.each([
    [{ PORT: 'http' }, 'PORT: expected a whole number'],
    [{ PORT: '70000' }, 'PORT: must be between 0 and 65535'],
    [{ CHUNK_SIZE: '1000' }, 'CHUNK_SIZE: must be between 5242880'],
    [{ PUBLIC_URL: 'portal.example' }, 'PUBLIC_URL: not a URL'],
    [{ PUBLIC_URL: 'ftp://portal.example' }, 'PUBLIC_URL: must start with http'],
    [{ STORAGE: 'disk' }, 'STORAGE: must be "fs" or "s3"'],
    [{ AUTH_TOKENS: 'alice' }, 'AUTH_TOKENS: expected token:user pairs'],
    [{ AUTH_TOKENS: 'short:alice' }, 'shorter than 16 characters'],
    [{ CORS_ORIGINS: 'not a url' }, 'CORS_ORIGINS: not a URL'],
    [{ SPEOS_VERSIONS: 'v252,v 251' }, 'SPEOS_VERSIONS: "v 251"'],
    [{ URL_TTL_SECONDS: '0' }, 'URL_TTL_SECONDS: must be between 1'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: must be one of'],
    [{ SIGNING_KEY: 'short' }, 'SIGNING_KEY: must be at least 32 characters'],
    [{ HASH_THREADS: 'two' }, 'HASH_THREADS: expected a whole number'],
    [{ SQLITE_SYNCHRONOUS: 'off' }, 'SQLITE_SYNCHRONOUS: must be FULL, NORMAL or EXTRA, got "OFF"'],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
