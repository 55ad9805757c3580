/**
 * Schemas of sign-in, personal API tokens, `speos-portal login` and the admin's owner list
 * (the /auth/* and /admin/* routes).
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A task's owner as admins see it. */
export const TaskOwner = Type.Object({
  id: Type.String({
    description: 'the stable owner id: `oidc:…` for a signed-in person, else the AUTH_TOKENS user name',
  }),
  name: Type.String({ description: 'display name from the provider (or the AUTH_TOKENS user name)' }),
  email: Nullable(Type.String()),
});
export type TaskOwner = Static<typeof TaskOwner>;

export const MeResponse = Type.Object({
  user: Nullable(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      email: Nullable(Type.String()),
      admin: Type.Boolean(),
      via: Type.Union([Type.Literal('session'), Type.Literal('api_token'), Type.Literal('auth_token')]),
    }),
  ),
  auth_required: Type.Boolean({ description: 'false: the portal is open, every request is allowed' }),
  oidc: Type.Boolean({ description: 'true: people sign in with the company provider at login_url' }),
  login_url: Nullable(Type.String()),
});
export type MeResponse = Static<typeof MeResponse>;

export const LogoutResponse = Type.Object({
  redirect_url: Type.String({ description: "where to send the browser: the provider's logout, or the portal's start" }),
});
export type LogoutResponse = Static<typeof LogoutResponse>;

export const ApiToken = Type.Object({
  token_id: Type.String(),
  name: Type.String(),
  hint: Type.String({ description: 'the first and last characters, e.g. spt_AbCd…wXyZ' }),
  created_at: Type.Integer(),
  last_used_at: Nullable(Type.Integer()),
  expires_at: Nullable(Type.Integer()),
});
export type ApiToken = Static<typeof ApiToken>;

export const ApiTokenList = Type.Object({ items: Type.Array(ApiToken) });
export type ApiTokenList = Static<typeof ApiTokenList>;

export const CreateTokenRequest = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, description: 'what the token is for, e.g. "build server"' }),
    expires_in_days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3650, description: 'unset: the token does not expire' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateTokenRequest = Static<typeof CreateTokenRequest>;

export const CreatedToken = Type.Composite([
  ApiToken,
  Type.Object({ token: Type.String({ description: 'the secret (spt_…): shown this once, never again' }) }),
]);
export type CreatedToken = Static<typeof CreatedToken>;

export const TokenIdParams = Type.Object({
  token_id: Type.String({
    minLength: 1,
    maxLength: 36,
    description: 'a token_id, or `current` for the token of this request',
  }),
});

export const DeviceCodeRequest = Type.Object(
  {
    client_name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'shown on the approval page and names the token' }),
    ),
  },
  { additionalProperties: false },
);
export type DeviceCodeRequest = Static<typeof DeviceCodeRequest>;

export const DeviceCodeResponse = Type.Object({
  device_code: Type.String({ description: 'secret: the CLI polls with it' }),
  user_code: Type.String({ description: 'short code the person confirms in the browser, e.g. BCDF-GHJK' }),
  verification_uri: Type.String(),
  verification_uri_complete: Type.String(),
  expires_in: Type.Integer({ description: 'seconds' }),
  interval: Type.Integer({ description: 'seconds between polls' }),
});
export type DeviceCodeResponse = Static<typeof DeviceCodeResponse>;

export const DeviceTokenRequest = Type.Object(
  { device_code: Type.String({ minLength: 1, maxLength: 100 }) },
  { additionalProperties: false },
);
export type DeviceTokenRequest = Static<typeof DeviceTokenRequest>;

export const DeviceTokenPending = Type.Object({
  status: Type.Union([Type.Literal('pending'), Type.Literal('slow_down')]),
  interval: Type.Integer(),
});
export type DeviceTokenPending = Static<typeof DeviceTokenPending>;

export const DeviceTokenIssued = Type.Composite([
  CreatedToken,
  Type.Object({ status: Type.Literal('approved'), user: TaskOwner }),
]);
export type DeviceTokenIssued = Static<typeof DeviceTokenIssued>;

export const UserCodeParams = Type.Object({ user_code: Type.String({ minLength: 1, maxLength: 20 }) });

export const DeviceInfo = Type.Object({
  user_code: Type.String(),
  client_name: Type.String(),
  expires_at: Type.Integer(),
});
export type DeviceInfo = Static<typeof DeviceInfo>;

export const OwnersResponse = Type.Object({
  items: Type.Array(Type.Composite([TaskOwner, Type.Object({ task_count: Type.Integer() })])),
});
export type OwnersResponse = Static<typeof OwnersResponse>;
