/** GET and PUT /notifications/settings: a person's e-mail notifications (on/off, language). */
import { ApiError, NotificationSettings, NotificationSettingsResponse } from '@speos-portal/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import { errorResponses } from '../http/openapi.js';

export interface NotifyRoutesOptions {
  db: Db;
  clock: Clock;
  /** SMTP_URL is set. */
  emailConfigured: boolean;
  hide: boolean;
}

export const notifyRoutes: FastifyPluginAsync<NotifyRoutesOptions> = async (
  app,
  { db, clock, emailConfigured, hide },
) => {
  const tags = ['notifications'];
  const current = async (request: FastifyRequest) => {
    const owner = request.owner;
    const prefs =
      owner === null
        ? undefined
        : await db.selectFrom('notification_preferences').selectAll().where('owner', '=', owner).executeTakeFirst();
    const email = request.principal?.email ?? null;
    return {
      email_enabled: prefs ? Number(prefs.email_enabled) === 1 : true,
      language: prefs?.language === 'zh' ? ('zh' as const) : ('en' as const),
      email,
      email_available: emailConfigured && email !== null,
    };
  };

  app.get(
    '/notifications/settings',
    {
      schema: {
        hide,
        tags,
        summary: 'Your e-mail notifications: on or off, language, and where they go',
        response: { 200: NotificationSettingsResponse, ...errorResponses([]) },
      },
    },
    current,
  );

  app.put(
    '/notifications/settings',
    {
      schema: {
        hide,
        tags,
        summary: 'Turn your e-mail notifications on or off, and choose their language (en, zh)',
        body: NotificationSettings,
        response: { 200: NotificationSettingsResponse, ...errorResponses(['FORBIDDEN']) },
      },
    },
    async (request) => {
      if (request.owner === null) {
        throw new ApiError(
          'FORBIDDEN',
          'This portal has no sign-in, so there is nobody to e-mail: notification settings belong to signed-in users.',
        );
      }
      const body = request.body as NotificationSettings;
      const values = {
        owner: request.owner,
        email_enabled: body.email_enabled ? 1 : 0,
        language: body.language,
        updated_at: clock(),
      };
      await db
        .insertInto('notification_preferences')
        .values(values)
        .onConflict((oc) =>
          oc.column('owner').doUpdateSet({
            email_enabled: values.email_enabled,
            language: values.language,
            updated_at: values.updated_at,
          }),
        )
        .execute();
      return current(request);
    },
  );
};
