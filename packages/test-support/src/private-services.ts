/**
 * A test file's own PostgreSQL cluster or Swift store, for tests that stop and start them
 * (outages). The shared services of `scripts/services/up.sh` are never stopped: other test
 * files use them at the same time. Started once per test file with the same scripts as the
 * shared ones (scripts/services/postgres.sh, swift.sh), on free ports, in a temporary
 * directory; `destroy` stops them and deletes it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, tempDir } from './portal.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../../scripts/services/', import.meta.url));
/** Generous: building Swift's rings takes minutes on a machine other test runs keep busy. */
const SCRIPT_TIMEOUT_MS = 10 * 60_000;

/** Instances this process made and has not destroyed yet: `destroyPrivateServices` ends them. */
const live = new Map<string, () => Promise<void>>();

/**
 * Stops and deletes every instance this process started and did not destroy — one whose
 * start was cut off by a test timeout included. For a test file's afterAll.
 */
export async function destroyPrivateServices(): Promise<void> {
  for (const [dir, destroy] of [...live]) {
    await destroy().catch(() => {});
    live.delete(dir);
  }
}

async function script(name: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run('bash', [`${SCRIPTS}${name}`, ...args], {
      env: { ...process.env, ...env },
      timeout: SCRIPT_TIMEOUT_MS,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export interface PrivateService {
  /** Makes it unreachable (clients see refused connections). */
  stop(): Promise<void>;
  /** Back again; resolves once it answers. */
  start(): Promise<void>;
  /** Stops it for good and deletes its directory. */
  destroy(): Promise<void>;
}

export interface PrivatePostgres extends PrivateService {
  /** postgres://… of a database on it. */
  url: string;
}

/** Why this machine cannot run a private PostgreSQL, or undefined when it can. */
export function postgresSkipReason(): string | undefined {
  const found = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').length > 0;
  return found ? undefined : 'PostgreSQL server binaries are missing (apt-get install -y postgresql)';
}

/** A PostgreSQL cluster of its own (initdb, ~4 s), on a free port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await tempDir('speos-private-pg-');
  const env = { PG_TEST_PORT: String(await freePort()), PG_TEST_DATABASE: 'speos_outage' };
  const destroy = async () => {
    live.delete(dir);
    await script('postgres.sh', ['stop', dir], env).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  live.set(dir, destroy);
  await script('postgres.sh', ['start', dir], env);
  const url = /PG_TEST_URL=(\S+)/.exec(await script('postgres.sh', ['env', dir], env))![1]!;
  return {
    url,
    stop: async () => void (await script('postgres.sh', ['stop', dir], env)),
    start: async () => void (await script('postgres.sh', ['start', dir], env)),
    destroy,
  };
}

export interface PrivateSwift extends PrivateService {
  /** S3 settings of the store (bucket created). */
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** Directory of the instance (pid files under run/). */
  dir: string;
}

/** Why this machine cannot run a private Swift, or undefined when it can. */
export function swiftSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'Swift must be started as root (scripts/services/swift.sh)';
  for (const binary of ['/usr/bin/swift-proxy-server', '/usr/bin/swift-object-server', '/usr/bin/memcached']) {
    if (!existsSync(binary)) {
      return `${binary} is missing (apt-get install -y swift swift-proxy swift-account swift-container swift-object memcached, or run scripts/services/up.sh once)`;
    }
  }
  return undefined;
}

/**
 * A Swift + s3api store of its own (~10 s), all five ports free ones. `stop` kills only its
 * proxy — the S3 endpoint then refuses connections, as a store that went away does — and
 * `start` brings the proxy back (~3–6 s), keeping every object.
 */
export async function startPrivateSwift(): Promise<PrivateSwift> {
  const dir = await tempDir('speos-private-swift-');
  const names = ['PROXY', 'OBJECT', 'CONTAINER', 'ACCOUNT', 'MEMCACHED'];
  const env: Record<string, string> = { S3_TEST_BUCKET: 'speos-outage' };
  for (const name of names) env[`SWIFT_${name}_PORT`] = String(await freePort());
  const destroy = async () => {
    live.delete(dir);
    await script('swift.sh', ['stop', dir], env).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  live.set(dir, destroy);
  try {
    await script('swift.sh', ['start', dir], env);
  } catch (error) {
    await destroy();
    throw error;
  }
  const vars = Object.fromEntries(
    [...(await script('swift.sh', ['env', dir], env)).matchAll(/export (\w+)=(\S*)/g)].map((m) => [m[1]!, m[2]!]),
  );
  return {
    dir,
    s3: {
      endpoint: vars.S3_TEST_ENDPOINT!,
      bucket: vars.S3_TEST_BUCKET!,
      region: vars.S3_TEST_REGION!,
      accessKeyId: vars.S3_TEST_ACCESS_KEY_ID!,
      secretAccessKey: vars.S3_TEST_SECRET_ACCESS_KEY!,
    },
    stop: async () => void (await script('swift.sh', ['stop', dir, 'proxy'], env)),
    start: async () => void (await script('swift.sh', ['start', dir, 'proxy'], env)),
    destroy,
  };
}
