/**
 * The real servers integration tests use — Swift + s3api as the S3 store, PostgreSQL —
 * found through the variables `scripts/services/up.sh` writes to `.tmp/services.env`.
 * When they are unset the tests that need them are skipped, with a note saying how to run them.
 */
import { randomBytes } from 'node:crypto';
import type { S3ObjectStoreOptions } from '@speos-portal/server';
import pg from 'pg';

const HOW = 'run `bash scripts/services/up.sh && source .tmp/services.env` first';

/** The S3 test store's settings, or undefined (with a console note) when S3_TEST_* is unset. */
export function s3TestOptions(what = 'S3 tests'): S3ObjectStoreOptions | undefined {
  const env = process.env;
  if (!env.S3_TEST_ENDPOINT || !env.S3_TEST_BUCKET) {
    console.warn(`[skipped] ${what}: S3_TEST_ENDPOINT/S3_TEST_BUCKET are unset; ${HOW}`);
    return undefined;
  }
  return {
    endpoint: env.S3_TEST_ENDPOINT,
    bucket: env.S3_TEST_BUCKET,
    region: env.S3_TEST_REGION || 'us-east-1',
    accessKeyId: env.S3_TEST_ACCESS_KEY_ID,
    secretAccessKey: env.S3_TEST_SECRET_ACCESS_KEY,
    forcePathStyle: true,
  };
}

/** The portal's configuration variables for that store (STORAGE=s3 and S3_*). */
export function s3PortalEnv(options: S3ObjectStoreOptions): Record<string, string> {
  return {
    STORAGE: 's3',
    S3_ENDPOINT: options.endpoint ?? '',
    S3_BUCKET: options.bucket,
    S3_REGION: options.region,
    S3_ACCESS_KEY_ID: options.accessKeyId ?? '',
    S3_SECRET_ACCESS_KEY: options.secretAccessKey ?? '',
    S3_FORCE_PATH_STYLE: 'true',
  };
}

/** PG_TEST_URL, or undefined (with a console note) when it is unset. */
export function pgTestUrl(what = 'PostgreSQL tests'): string | undefined {
  const url = process.env.PG_TEST_URL;
  if (!url) console.warn(`[skipped] ${what}: PG_TEST_URL is unset; ${HOW}`);
  return url || undefined;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, empty database on the PG_TEST_URL server, so test files never see each
 * other's rows; `drop` removes it (closing what is still connected).
 */
export async function createPgDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `speos_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
