/**
 * `speos-portal login`: get a personal API token without copy-paste. The portal hands out a
 * short code; the person approves it in the browser (signed in with the company's provider);
 * the next poll receives a new token, which is saved in the config file (credentials.ts).
 * `--with-token` reads a token from stdin instead; `logout` revokes the saved token and forgets it.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { PortalApiError, type PortalClient } from '@speos-portal/client';
import type { DeviceTokenIssued, MeResponse } from '@speos-portal/protocol';
import { CliError } from '../cli-error.js';
import { connect, DEFAULT_URL, explain } from '../connection.js';
import { configPath, locateConfig, readCliConfig, serverKey, writeCliConfig } from '../credentials.js';
import { argumentError } from './arg-errors.js';

export const LOGIN_USAGE = `Usage: speos-portal login [--server URL] [--with-token] [--name NAME]

Signs this computer in to the portal and saves a personal API token for it in
${configPath()} (readable only by you).

Without --with-token it prints a short code and an address: open it in a browser where you
are signed in to the portal (or sign in there), check the code, approve. The portal must use
company sign-in (OIDC); otherwise ask its operator for a token and use --with-token.

Options:
  --server URL    the portal (env SPEOS_PORTAL_URL, else the last one you logged in to,
                  else ${DEFAULT_URL}); it becomes the default for later commands
  --with-token    read the token from standard input (e.g. speos-portal login --with-token < token.txt)
  --name NAME     what the new token is called in the portal's token list
                  (default "speos-portal CLI on <this computer's name>")
  -h, --help      show this help`;

export const LOGOUT_USAGE = `Usage: speos-portal logout [--server URL]

Revokes the API token that speos-portal login saved for the portal and removes it from
${configPath()}.`;

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Paste the token, then press Enter and Ctrl-D: ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until the person approves (or denies, or the code expires). */
async function waitForApproval(api: PortalClient, deviceCode: string, interval: number, expiresIn: number) {
  const deadline = Date.now() + expiresIn * 1000;
  let wait = interval;
  while (Date.now() < deadline) {
    await sleep(wait * 1000);
    let answer: Awaited<ReturnType<PortalClient['pollDeviceLogin']>>;
    try {
      answer = await api.pollDeviceLogin(deviceCode);
    } catch (error) {
      // A network blip or a restarting server must not lose an approval in progress.
      if (error instanceof PortalApiError && error.status < 500 && error.status !== 429) throw explain(api, error);
      continue;
    }
    if (answer.status === 'approved') return answer as DeviceTokenIssued;
    wait = answer.interval;
  }
  throw new CliError('the code expired before it was approved; run speos-portal login again');
}

async function save(server: string, login: { token: string; user: string; token_id?: string }) {
  const file = await locateConfig();
  const config = await readCliConfig(file);
  config.server = server;
  config.logins = { ...config.logins, [server]: login };
  await writeCliConfig(file, config);
  return file;
}

function describeUser(me: MeResponse['user']): string {
  if (!me) return 'nobody';
  return me.email && me.email !== me.name ? `${me.name} (${me.email})` : me.name;
}

export async function loginCommand(argv: string[]): Promise<void> {
  let values: { server?: string; 'with-token'?: boolean; name?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: 'string' },
        'with-token': { type: 'boolean' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw argumentError(error, LOGIN_USAGE);
  }
  if (values.help) {
    console.log(LOGIN_USAGE);
    return;
  }
  if (values['with-token'] && values.name) throw new CliError('--name is for a new token; --with-token saves yours', 2);
  const anonymous = await connect(
    { server: values.server, token: undefined },
    { ...process.env, SPEOS_PORTAL_TOKEN: '' },
  );
  const server = serverKey(anonymous.baseUrl);

  if (values['with-token']) {
    const token = await readStdin();
    if (!token) throw new CliError('no token on standard input', 2);
    const api = await connect({ server, token });
    let me: MeResponse;
    try {
      me = await api.me();
    } catch (error) {
      if (error instanceof PortalApiError && error.status === 401) {
        throw new CliError(`the portal at ${server} does not accept this token: ${error.detail}`);
      }
      throw explain(api, error);
    }
    const who = me.user ? describeUser(me.user) : 'an open portal (it needs no token)';
    const file = await save(server, { token, user: me.user?.name ?? '' });
    console.error(`Logged in to ${server} as ${who}; token saved in ${file}.`);
    return;
  }

  let code: Awaited<ReturnType<PortalClient['startDeviceLogin']>>;
  try {
    code = await anonymous.startDeviceLogin(values.name?.trim() || `speos-portal CLI on ${os.hostname()}`);
  } catch (error) {
    if (error instanceof PortalApiError && error.status === 404) {
      throw new CliError(
        `the portal at ${server} has no company sign-in; ask its operator for a token and run speos-portal login --with-token`,
      );
    }
    throw explain(anonymous, error);
  }
  console.log(`To sign in, open ${code.verification_uri_complete}`);
  console.log(`and check that the page shows the code ${code.user_code}, then approve.`);
  console.error('Waiting for approval (Ctrl-C to give up)…');
  const issued = await waitForApproval(anonymous, code.device_code, code.interval, code.expires_in);
  const who =
    issued.user.email && issued.user.email !== issued.user.name
      ? `${issued.user.name} (${issued.user.email})`
      : issued.user.name;
  const file = await save(server, { token: issued.token, user: issued.user.name, token_id: issued.token_id });
  console.error(`Logged in to ${server} as ${who}; token "${issued.name}" saved in ${file}.`);
}

export async function logoutCommand(argv: string[]): Promise<void> {
  let values: { server?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { server: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw argumentError(error, LOGOUT_USAGE);
  }
  if (values.help) {
    console.log(LOGOUT_USAGE);
    return;
  }
  const file = await locateConfig();
  const config = await readCliConfig(file);
  const server = serverKey(
    (await connect({ server: values.server }, { ...process.env, SPEOS_PORTAL_TOKEN: '' })).baseUrl,
  );
  const saved = config.logins?.[server];
  if (!saved) {
    console.error(`Not logged in to ${server}; nothing to do.`);
    return;
  }
  const api = await connect({ server, token: saved.token });
  if (saved.token.startsWith('spt_')) {
    try {
      await api.revokeApiToken('current');
    } catch (error) {
      // Already revoked or expired: forgetting it is all that is left to do.
      if (!(error instanceof PortalApiError && error.status === 401)) throw explain(api, error);
    }
  }
  const { [server]: _removed, ...rest } = config.logins ?? {};
  config.logins = rest;
  if (config.server === server) delete config.server;
  await writeCliConfig(file, config);
  console.error(
    saved.token.startsWith('spt_')
      ? `Logged out of ${server}: the token was revoked and removed from ${file}.`
      : `Logged out of ${server}: the token was removed from ${file} (it is not a personal token, so it still works elsewhere).`,
  );
}
