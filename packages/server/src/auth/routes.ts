/**
 * /auth/*: sign-in with the OpenID provider (login, callback, logout, me), personal API
 * tokens, and the device-style `speos-portal login`; /admin/owners for the admin's filter.
 */

import { Type } from '@sinclair/typebox';
import {
  ApiError,
  ApiTokenList,
  CreatedToken,
  CreateTokenRequest,
  DeviceCodeRequest,
  DeviceCodeResponse,
  DeviceInfo,
  DeviceTokenIssued,
  DeviceTokenPending,
  DeviceTokenRequest,
  LogoutResponse,
  MeResponse,
  OwnersResponse,
  TokenIdParams,
  UserCodeParams,
} from '@speos-portal/protocol';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import { toSeconds } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { ApiTokenRow } from '../db/schema.js';
import { errorResponses } from '../http/openapi.js';
import { DEVICE_CODE_TTL_MS, type DeviceLogins, POLL_INTERVAL_SECONDS } from './device.js';
import { rememberFlow, takeFlow } from './login-flows.js';
import type { RelyingParty } from './oidc.js';
import type { Authenticator, Principal } from './principal.js';
import { safeReturnPath } from './return-path.js';
import { createApiToken, listApiTokens, revokeApiToken } from './tokens.js';
import { upsertUser, usersById } from './users.js';

export interface AuthRoutesOptions {
  db: Db;
  clock: Clock;
  publicUrl: string;
  authenticator: Authenticator;
  /** Undefined: no OIDC sign-in on this portal. */
  relyingParty: RelyingParty | undefined;
  devices: DeviceLogins;
  hide: boolean;
}

/** Live `speos-portal login` requests at once; past this, new ones wait (a flood cannot fill the table). */
const MAX_PENDING_DEVICE_LOGINS = 1000;

function presentToken(row: ApiTokenRow) {
  return {
    token_id: row.token_id,
    name: row.name,
    hint: row.hint,
    created_at: toSeconds(Number(row.created_at)),
    last_used_at: row.last_used_at === null ? null : toSeconds(Number(row.last_used_at)),
    expires_at: row.expires_at === null ? null : toSeconds(Number(row.expires_at)),
  };
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A browser that followed a sign-in link gets a short page rather than JSON; scripts and
 * tests asking for JSON get the usual `{detail, code}`.
 */
function sendLoginError(request: FastifyRequest, reply: FastifyReply, error: unknown, publicUrl: string) {
  if (!(error instanceof ApiError) || !(request.headers.accept ?? '').includes('text/html')) throw error;
  request.errorCode = error.code;
  if (error.code === 'IDENTITY_PROVIDER_UNAVAILABLE') reply.header('Retry-After', '30');
  const again = `${new URL(publicUrl).origin}/`;
  return reply
    .code(error.status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign-in failed</title>` +
        `<h1>Sign-in failed</h1><p>${escapeHtml(error.message)}</p><p>Code: ${error.code}</p>` +
        `<p><a href="${escapeHtml(again)}">Back to the portal</a></p></html>`,
    );
}

export const authRoutes: FastifyPluginAsync<AuthRoutesOptions> = async (app, options) => {
  const { db, clock, publicUrl, authenticator, relyingParty: rp, devices, hide } = options;
  const tags = ['auth'];
  const portalOrigin = new URL(publicUrl).origin;
  const optional = { auth: 'optional' as const };

  const requireRp = (): RelyingParty => {
    if (!rp) throw new ApiError('NOT_FOUND', 'Sign-in is not configured on this portal (OIDC_ISSUER is not set).');
    return rp;
  };
  /** The signed-in person, or 401 (a request with no credential on an optional route). */
  const who = (request: FastifyRequest): Principal => {
    if (!request.principal) throw new ApiError('UNAUTHENTICATED', 'Sign in first (open the web UI).');
    return request.principal;
  };
  /** Personal tokens and device approvals belong to people who signed in with the provider. */
  const person = (request: FastifyRequest): Principal => {
    const principal = who(request);
    if (principal.via === 'auth_token') {
      throw new ApiError(
        'FORBIDDEN',
        'AUTH_TOKENS tokens are for automation and have no personal API tokens; sign in with the web UI instead.',
      );
    }
    return principal;
  };
  const browserSession = (request: FastifyRequest, what: string): Principal => {
    const principal = person(request);
    if (principal.via !== 'session') {
      throw new ApiError('FORBIDDEN', `${what} needs a signed-in browser session, not an API token.`);
    }
    return principal;
  };

  app.get(
    '/auth/login',
    {
      config: optional,
      schema: {
        hide,
        tags,
        summary: 'Start sign-in: redirects to the provider, then back to return_to (a path on this portal)',
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 2000 })) }),
        response: {
          302: Type.Null({ description: "the provider's sign-in page" }),
          ...errorResponses(['NOT_FOUND', 'IDENTITY_PROVIDER_UNAVAILABLE']),
        },
      },
    },
    async (request, reply) => {
      try {
        const relying = requireRp();
        const raw = (request.query as { return_to?: string }).return_to;
        const returnTo = safeReturnPath(raw);
        if (!returnTo) {
          throw new ApiError(
            'VALIDATION_FAILED',
            `return_to must be a path on this portal such as /#/tasks, got ${JSON.stringify(raw)}.`,
          );
        }
        const { url, checks } = await relying.start();
        rememberFlow(request, { ...checks, returnTo, at: Date.now() });
        reply.header('Cache-Control', 'no-store');
        return reply.redirect(url.toString(), 302);
      } catch (error) {
        return sendLoginError(request, reply, error, publicUrl);
      }
    },
  );

  app.get(
    '/auth/callback',
    {
      config: optional,
      schema: {
        hide,
        tags,
        summary: 'Where the provider sends the browser back (the redirect URI: PUBLIC_URL/auth/callback)',
        querystring: Type.Object({}, { additionalProperties: true }),
        response: {
          302: Type.Null({ description: 'signed in: to the page the person asked for' }),
          ...errorResponses(['LOGIN_FAILED', 'NOT_FOUND', 'IDENTITY_PROVIDER_UNAVAILABLE']),
        },
      },
    },
    async (request, reply) => {
      try {
        const relying = requireRp();
        const query = request.query as Record<string, unknown>;
        const state = typeof query.state === 'string' ? query.state : '';
        const flow = state ? takeFlow(request, state, Date.now()) : undefined;
        if (!flow) {
          throw new ApiError(
            'LOGIN_FAILED',
            'This sign-in answer does not belong to a sign-in started in this browser (its state is unknown, expired or already used). Sign in again.',
          );
        }
        const callbackUrl = new URL(relying.redirectUri);
        callbackUrl.search = new URL(request.url, 'http://callback.invalid').search;
        const { claims, idToken } = await relying.finish(callbackUrl, flow);
        const now = clock();
        const user = await upsertUser(db, claims, now);
        // A new session id at every sign-in: a session id planted before cannot be taken over.
        const previous = request.portalSession.get('sid');
        if (typeof previous === 'string') await authenticator.sessions!.end(previous);
        const sid = await authenticator.sessions!.create(user.user_id, idToken, now);
        request.portalSession.set('sid', sid);
        request.log.info({ user_id: user.user_id }, 'signed in');
        reply.header('Cache-Control', 'no-store');
        return reply.redirect(`${portalOrigin}${flow.returnTo}`, 302);
      } catch (error) {
        return sendLoginError(request, reply, error, publicUrl);
      }
    },
  );

  app.post(
    '/auth/logout',
    {
      config: optional,
      schema: {
        hide,
        tags,
        summary: "Sign out: ends the session here; redirect_url is the provider's logout (when it has one)",
        response: { 200: LogoutResponse, ...errorResponses(['CSRF_REJECTED']) },
      },
    },
    async (request) => {
      const principal = request.principal;
      const home = `${portalOrigin}/`;
      if (principal?.via === 'session' && principal.sessionId) {
        await authenticator.sessions!.end(principal.sessionId);
        request.portalSession.delete();
        const providerLogout = await rp?.endSessionUrl(principal.idToken ?? null, home);
        return { redirect_url: providerLogout ?? home };
      }
      if (request.portalSession?.get('sid')) request.portalSession.delete();
      return { redirect_url: home };
    },
  );

  app.get(
    '/auth/me',
    {
      config: optional,
      schema: {
        hide,
        tags,
        summary: 'Who is signed in (user null when nobody), and how this portal signs people in',
        response: { 200: MeResponse, ...errorResponses(['UNAUTHENTICATED']) },
      },
    },
    async (request): Promise<MeResponse> => {
      const p = request.principal;
      return {
        user: p ? { id: p.owner, name: p.name, email: p.email, admin: p.admin, via: p.via } : null,
        auth_required: authenticator.required,
        oidc: rp !== undefined,
        login_url: rp ? '/auth/login' : null,
      };
    },
  );

  app.get(
    '/auth/tokens',
    {
      schema: {
        hide,
        tags,
        summary: 'Your personal API tokens (never the secrets)',
        response: { 200: ApiTokenList, ...errorResponses(['UNAUTHENTICATED', 'FORBIDDEN']) },
      },
    },
    async (request) => ({ items: (await listApiTokens(db, person(request).owner)).map(presentToken) }),
  );

  app.post(
    '/auth/tokens',
    {
      schema: {
        hide,
        tags,
        summary: 'Create a personal API token (signed-in browser session only); the secret is shown once',
        body: CreateTokenRequest,
        response: {
          201: CreatedToken,
          ...errorResponses(['UNAUTHENTICATED', 'FORBIDDEN', 'CSRF_REJECTED', 'INVALID_STATE']),
        },
      },
    },
    async (request, reply) => {
      const principal = browserSession(request, 'Creating an API token');
      const body = request.body as CreateTokenRequest;
      const name = body.name.trim();
      if (!name) throw new ApiError('VALIDATION_FAILED', 'name must not be blank: say what the token is for.');
      const now = clock();
      const { row, secret } = await createApiToken(db, {
        userId: principal.owner,
        name,
        expiresAt: body.expires_in_days === undefined ? null : now + body.expires_in_days * 86_400_000,
        now,
      });
      return reply.code(201).send({ ...presentToken(row), token: secret });
    },
  );

  app.delete(
    '/auth/tokens/:token_id',
    {
      schema: {
        hide,
        tags,
        summary: 'Revoke one of your API tokens (`current`: the token this request is made with)',
        params: TokenIdParams,
        response: {
          204: Type.Null({ description: 'revoked' }),
          ...errorResponses(['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'CSRF_REJECTED']),
        },
      },
    },
    async (request, reply) => {
      const principal = person(request);
      let tokenId = (request.params as { token_id: string }).token_id;
      if (tokenId === 'current') {
        if (principal.via !== 'api_token' || !principal.tokenId) {
          throw new ApiError('VALIDATION_FAILED', '`current` means the API token this request is made with; send one.');
        }
        tokenId = principal.tokenId;
      }
      if (!(await revokeApiToken(db, principal.owner, tokenId))) {
        throw new ApiError('NOT_FOUND', `You have no API token ${tokenId} (already revoked?).`);
      }
      return reply.code(204).send();
    },
  );

  app.post(
    '/auth/device/code',
    {
      config: { public: true },
      schema: {
        hide,
        tags,
        summary: 'speos-portal login, step 1: a code for the person to approve in the browser',
        body: Type.Optional(DeviceCodeRequest),
        response: { 200: DeviceCodeResponse, ...errorResponses(['NOT_FOUND', 'RATE_LIMITED']) },
      },
    },
    async (request) => {
      requireRp();
      const now = clock();
      const live = await db
        .selectFrom('device_logins')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(live?.n ?? 0) >= MAX_PENDING_DEVICE_LOGINS) {
        throw new ApiError('RATE_LIMITED', 'Too many sign-ins are waiting for approval; try again in a few minutes.');
      }
      const clientName = (request.body as DeviceCodeRequest | undefined)?.client_name?.trim() || 'speos-portal CLI';
      const { deviceCode, userCode } = await devices.start(clientName, now);
      const verify = `${publicUrl}/auth/device`;
      return {
        device_code: deviceCode,
        user_code: userCode,
        verification_uri: verify,
        verification_uri_complete: `${verify}?code=${encodeURIComponent(userCode)}`,
        expires_in: DEVICE_CODE_TTL_MS / 1000,
        interval: POLL_INTERVAL_SECONDS,
      };
    },
  );

  app.post(
    '/auth/device/token',
    {
      config: { public: true },
      schema: {
        hide,
        tags,
        summary: 'speos-portal login, step 3: poll until the person approved; then a new API token, once',
        body: DeviceTokenRequest,
        response: {
          200: DeviceTokenIssued,
          202: DeviceTokenPending,
          ...errorResponses(['LOGIN_CODE_INVALID', 'LOGIN_DENIED', 'NOT_FOUND']),
        },
      },
    },
    async (request, reply) => {
      requireRp();
      const { device_code } = request.body as DeviceTokenRequest;
      const result = await devices.poll(device_code, clock());
      if (result.status !== 'issued') {
        return reply.code(202).send({
          status: result.status,
          interval: result.status === 'slow_down' ? POLL_INTERVAL_SECONDS * 2 : POLL_INTERVAL_SECONDS,
        });
      }
      const owner = (await usersById(db, [result.userId])).get(result.userId);
      const now = clock();
      return {
        status: 'approved',
        token: result.secret,
        token_id: result.tokenId,
        name: result.name,
        hint: `${result.secret.slice(0, 8)}…${result.secret.slice(-4)}`,
        created_at: toSeconds(now),
        last_used_at: null,
        expires_at: result.expiresAt === null ? null : toSeconds(result.expiresAt),
        user: {
          id: result.userId,
          name: owner?.name ?? owner?.email ?? result.userId,
          email: owner?.email ?? null,
        },
      };
    },
  );

  app.get(
    '/auth/device',
    {
      config: { public: true },
      schema: {
        hide,
        tags,
        summary: 'The address speos-portal login prints: opens the approval page of the web UI',
        querystring: Type.Object({ code: Type.Optional(Type.String({ maxLength: 20 })) }),
        response: { 302: Type.Null({ description: 'the web UI page that approves the code' }) },
      },
    },
    async (request, reply) => {
      const code = (request.query as { code?: string }).code;
      return reply.redirect(`${portalOrigin}/#/device${code ? `?code=${encodeURIComponent(code)}` : ''}`, 302);
    },
  );

  app.get(
    '/auth/device/:user_code',
    {
      schema: {
        hide,
        tags,
        summary: 'A pending speos-portal login, for the approval page',
        params: UserCodeParams,
        response: { 200: DeviceInfo, ...errorResponses(['LOGIN_CODE_INVALID', 'FORBIDDEN', 'UNAUTHENTICATED']) },
      },
    },
    async (request) => {
      browserSession(request, 'Approving a sign-in');
      const { user_code } = request.params as { user_code: string };
      const info = await devices.describe(user_code, clock());
      return {
        user_code: user_code.toUpperCase(),
        client_name: info.clientName,
        expires_at: toSeconds(info.expiresAt),
      };
    },
  );

  for (const [action, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    app.post(
      `/auth/device/:user_code/${action}`,
      {
        schema: {
          hide,
          tags,
          summary: approve
            ? 'Approve a speos-portal login: the CLI receives a new API token of yours'
            : 'Deny a speos-portal login',
          params: UserCodeParams,
          response: {
            204: Type.Null({ description: approve ? 'approved' : 'denied' }),
            ...errorResponses(['LOGIN_CODE_INVALID', 'FORBIDDEN', 'UNAUTHENTICATED', 'CSRF_REJECTED']),
          },
        },
      },
      async (request, reply) => {
        const principal = browserSession(request, 'Approving a sign-in');
        await devices.decide((request.params as { user_code: string }).user_code, principal.owner, approve, clock());
        return reply.code(204).send();
      },
    );
  }

  app.get(
    '/admin/owners',
    {
      schema: {
        hide,
        tags: ['admin'],
        summary: 'Admins: everyone who owns tasks, with how many (for the owner filter)',
        response: { 200: OwnersResponse, ...errorResponses(['UNAUTHENTICATED', 'FORBIDDEN']) },
      },
    },
    async (request) => {
      if (!request.principal?.admin)
        throw new ApiError('FORBIDDEN', 'Only admins see every owner (ADMIN_USERS, OIDC_ADMIN_GROUPS).');
      const rows = await db
        .selectFrom('tasks')
        .select(['owner', (eb) => eb.fn.countAll<number>().as('n')])
        .where('owner', 'is not', null)
        .groupBy('owner')
        .execute();
      const users = await usersById(
        db,
        rows.map((r) => r.owner!),
      );
      const items = rows.map((r) => {
        const user = users.get(r.owner!);
        return {
          id: r.owner!,
          name: user?.name ?? user?.email ?? r.owner!,
          email: user?.email ?? null,
          task_count: Number(r.n),
        };
      });
      items.sort((a, b) => a.name.localeCompare(b.name));
      return { items };
    },
  );
};
