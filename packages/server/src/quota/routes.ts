/** GET /usage (the caller's stored bytes and quota) and GET /usage/users (admins; the operator with auth off). */
import { ApiError, UsageByUserResponse, UsageResponse } from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { usersById } from '../auth/users.js';
import type { Db } from '../db/connect.js';
import { errorResponses } from '../http/openapi.js';
import { storedBytes, storedBytesByOwner } from './usage.js';

export interface UsageRoutesOptions {
  db: Db;
  quotaBytes: number | undefined;
  hide: boolean;
}

export const usageRoutes: FastifyPluginAsync<UsageRoutesOptions> = async (app, { db, quotaBytes, hide }) => {
  const tags = ['usage'];
  app.get(
    '/usage',
    {
      schema: {
        hide,
        tags,
        summary: 'Your stored bytes (uploads and results) and your quota (USER_QUOTA_BYTES)',
        response: { 200: UsageResponse, ...errorResponses([]) },
      },
    },
    async (request) => ({ used_bytes: await storedBytes(db, request.owner), quota_bytes: quotaBytes ?? null }),
  );

  app.get(
    '/usage/users',
    {
      schema: {
        hide,
        tags,
        summary: 'Stored bytes per user, largest first (admins; anyone when auth is off)',
        response: { 200: UsageByUserResponse, ...errorResponses(['FORBIDDEN']) },
      },
    },
    async (request) => {
      // With auth off there is no principal: the operator asks through the API directly.
      if (request.principal && !request.principal.admin) {
        throw new ApiError('FORBIDDEN', 'Only admins see the usage of every user; GET /usage shows yours.');
      }
      const rows = await storedBytesByOwner(db);
      const users = await usersById(
        db,
        rows.map((r) => r.owner ?? ''),
      );
      return {
        quota_bytes: quotaBytes ?? null,
        total_bytes: rows.reduce((sum, r) => sum + r.used_bytes, 0),
        users: rows.map((r) => {
          const user = r.owner ? users.get(r.owner) : undefined;
          return {
            owner: r.owner,
            name: user?.name ?? user?.email ?? r.owner,
            email: user?.email ?? null,
            used_bytes: r.used_bytes,
          };
        }),
      };
    },
  );
};
