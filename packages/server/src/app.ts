/**
 * Assembles the Fastify app from its parts. `createPortal` opens the database and the
 * store from a Config; `buildApp` takes them ready-made (tests hand in their own).
 */
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { setupSignIn } from './auth/setup.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { unavailableReason } from './db/availability.js';
import { type Db, databaseHealth, openDatabase } from './db/connect.js';
import { DEFAULT_DOWNLOADS_DIR, registerDownloads } from './http/cli-downloads.js';
import { frameworkErrorHandler, registerErrorHandling, sendError } from './http/errors.js';
import { IdempotencyKeys, REPLAYED_HEADER } from './http/idempotency.js';
import { Metrics } from './http/metrics.js';
import { registerNumberCheck } from './http/numbers.js';
import { clientErrorHandler } from './http/raw-guard.js';
import { registerSecurityHeaders, swaggerCsp } from './http/security-headers.js';
import { registerStorageMetrics } from './http/storage-metrics.js';
import { DEFAULT_WEB_ROOT, registerWebUi } from './http/web-ui.js';
import { createLogger } from './logger.js';
import { NotificationDispatcher } from './notify/dispatcher.js';
import { notifyRoutes } from './notify/routes.js';
import { usageRoutes } from './quota/routes.js';
import { pinRoutes } from './retention/routes.js';
import { startRetention } from './retention/sweep.js';
import { FsObjectStore } from './storage/fs-store.js';
import type { ObjectStore } from './storage/object-store.js';
import { closeObjectStore, openObjectStore, storeWarnings } from './storage/open-store.js';
import { partRoute, rejectBeforeContinue } from './storage/part-route.js';
import { ConfirmService } from './tasks/confirm.js';
import { TaskControl } from './tasks/control.js';
import { controlRoutes } from './tasks/control-routes.js';
import { taskRoutes } from './tasks/routes.js';
import { TaskService } from './tasks/service.js';
import { startUploadExpiry } from './uploads/expiry.js';
import { formRoute } from './uploads/form-route.js';
import { FormSubmission } from './uploads/form-submission.js';
import { uploadRoutes } from './uploads/routes.js';
import { UploadService } from './uploads/service.js';
import type { WorkerConfig } from './worker/config.js';
import { Worker } from './worker/worker.js';
import { workerRoutes } from './workers/routes.js';

export const VERSION = '0.1.0';

export interface AppDeps {
  config: Config;
  db: Db;
  store: ObjectStore;
  clock?: Clock;
  logger?: FastifyServerOptions['logger'];
  /** A ready-made logger instead of `logger`'s options (createPortal logs before the app exists). */
  loggerInstance?: FastifyBaseLogger;
  /** Directory of the built web UI; undefined: `/` redirects to the API docs. */
  webRoot?: string | undefined;
  /** Builds of the command-line tool served at /downloads; default: the repository's dist/cli. */
  downloadsDir?: string | undefined;
  /** Called when a task was queued (retry), so an in-process worker claims it at once. */
  onQueued?: () => void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db, store } = deps;
  const clock = deps.clock ?? systemClock;
  const app = Fastify({
    ...(deps.loggerInstance
      ? { loggerInstance: deps.loggerInstance }
      : { logger: deps.logger ?? { level: config.logLevel } }),
    bodyLimit: 4 * 1024 * 1024,
    // Keep the client's request id when it sends a sane one, so logs join across hops.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    logController: new LogController({ requestIdLogLabel: 'request_id' }),
    ajv: { customOptions: { coerceTypes: true, useDefaults: false, removeAdditional: false, allErrors: true } },
    routerOptions: { ignoreTrailingSlash: true },
    // Bad URLs, over-long path segments and unparseable requests get the {detail, code} envelope too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  });
  // While shutting down, responses to requests still in flight close their connection,
  // so keep-alive clients do not hold the process open until their idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    if (closing) reply.header('Connection', 'close');
  });
  // Optional fields sent as null mean "not given" (as pydantic's Optional does).
  app.addHook('preValidation', async (request) => {
    const body = request.body;
    if (body && typeof body === 'object' && !Array.isArray(body) && !(Symbol.asyncIterator in body)) {
      for (const [key, value] of Object.entries(body)) {
        if (value === null) delete (body as Record<string, unknown>)[key];
      }
    }
  });

  registerErrorHandling(app);
  registerNumberCheck(app);
  await app.register(cors, {
    origin: config.corsOrigins === '*' ? '*' : config.corsOrigins,
    methods: ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Content-Type', 'Authorization', 'X-Request-Id', 'Range', 'Idempotency-Key'],
    exposedHeaders: ['ETag', 'X-Request-Id', 'Content-Disposition', 'Content-Range', 'Retry-After', REPLAYED_HEADER],
    maxAge: 600,
    // An OPTIONS that is not a proper preflight gets the CORS answer too, instead of the
    // plugin's plain-text 400 (every error this server sends is {detail, code}).
    strictPreflight: false,
  });
  await registerSecurityHeaders(app, config);
  const signIn = await setupSignIn(app, { config, db, clock });
  const metrics = new Metrics(db);
  registerStorageMetrics(metrics.registry, db);
  metrics.register(app);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'speos-portal API',
        version: VERSION,
        description:
          'Resumable direct-to-storage uploads and SPEOS job submission. Every route is also served under /api. Errors are {"detail", "code"}.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      },
      security: signIn.authenticator.required ? [{ bearer: [] }] : [],
    },
  });
  // The docs' page and its static assets (registered next) are public.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config as object), public: true };
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true },
    staticCSP: true,
    transformStaticCSP: swaggerCsp,
  });
  app.get('/openapi.json', { schema: { hide: true }, config: { public: true } }, async () => app.swagger());

  const uploads = new UploadService(
    { db, store, config, clock },
    { onCompleted: () => metrics.uploadsCompleted.inc(), onAborted: () => metrics.uploadsAborted.inc() },
  );
  const confirm = new ConfirmService({ db, config, clock });
  const tasks = new TaskService({ db, clock });
  const idempotency = new IdempotencyKeys({ db, clock, ttlHours: config.idempotencyTtlHours });
  const control = new TaskControl({ db, store, clock, idempotency, log: app.log.child({ component: 'tasks' }) });
  const submission = new FormSubmission({ db, store, config, clock, idempotency });
  for (const prefix of ['', '/api']) {
    const hide = prefix !== '';
    await app.register(uploadRoutes, { prefix, service: uploads, confirm, config, hide });
    await app.register(formRoute, { prefix, submission, config, hide, onQueued: deps.onQueued });
    await app.register(signIn.routes, { prefix, hide });
    await app.register(taskRoutes, { prefix, tasks, store, hide });
    await app.register(controlRoutes, { prefix, control, store, hide, onQueued: deps.onQueued });
    await app.register(usageRoutes, { prefix, db, quotaBytes: config.keeping.userQuotaBytes, hide });
    await app.register(pinRoutes, { prefix, db, clock, hide });
    await app.register(notifyRoutes, { prefix, db, clock, emailConfigured: !!config.keeping.smtpUrl, hide });
    await app.register(workerRoutes, { prefix, db, clock, hide });
    if (store instanceof FsObjectStore) await app.register(partRoute, { prefix, store, metrics, hide });
  }

  await registerWebUi(app, deps.webRoot);
  await registerDownloads(app, deps.downloadsDir ?? config.cliDownloadsDir ?? DEFAULT_DOWNLOADS_DIR);
  if (store instanceof FsObjectStore) rejectBeforeContinue(app.server, store, app.log);

  // Under /api too: clients that reach the API by that prefix probe readiness there.
  for (const prefix of ['', '/api']) {
    app.get(`${prefix}/healthz`, { schema: { hide: true }, config: { public: true } }, async () => ({
      status: 'ok',
      version: VERSION,
    }));
    app.get(`${prefix}/readyz`, { schema: { hide: true }, config: { public: true } }, async (request, reply) => {
      // Both are checked every time, so the answer names every backend that is down.
      const [database, storage] = await Promise.all([
        db
          .selectFrom('tasks')
          .select('task_id')
          .limit(1)
          .execute()
          .then(() => undefined, unavailableReason),
        store.check().then(
          () => undefined,
          (error: unknown) => (error as Error).message,
        ),
      ]);
      if (database === undefined && storage === undefined) return { status: 'ready' };
      request.log.debug({ database, storage }, 'not ready');
      const down = [database !== undefined ? `the database cannot be reached (${database})` : '', storage ?? ''].filter(
        Boolean,
      );
      return sendError(
        reply,
        database !== undefined ? 'DATABASE_UNAVAILABLE' : 'STORAGE_UNAVAILABLE',
        `Not ready: ${down.join('; ')}.`,
        {
          database: database === undefined ? 'ok' : 'unreachable',
          storage: storage === undefined ? 'ok' : 'unreachable',
        },
      );
    });
  }
  return app;
}

/** Opens what a Config names (database, store) and builds the app on them. */
export async function createPortal(
  config: Config,
  options: {
    /** A pino logger; default: JSON lines on stdout at LOG_LEVEL. */
    logger?: FastifyBaseLogger;
    clock?: Clock;
    /** Run SPEOS jobs in this process too (set when a solver command is configured). */
    worker?: WorkerConfig;
  } = {},
) {
  const log = options.logger ?? createLogger(config.logLevel);
  const db = await openDatabase(config.databaseUrl, config.dataDir, {
    sqliteSynchronous: config.sqliteSynchronous,
    waitSeconds: config.databaseWaitSeconds,
    onWait: ({ attempt, reason, retryInMs, waitedMs }) =>
      log.warn(
        { attempt, reason, waited_seconds: Math.round(waitedMs / 1000) },
        `database not reachable yet (${reason}); trying again in ${(retryInMs / 1000).toFixed(1)} s, for up to ${config.databaseWaitSeconds} s (DATABASE_WAIT_SECONDS)`,
      ),
  });
  const stopWatching = watchDatabase(db, log);
  const clock = options.clock ?? systemClock;
  const store = await openObjectStore(config, clock).catch(async (error) => {
    await db.destroy();
    throw error;
  });
  let worker: Worker | undefined;
  const app = await buildApp({
    config,
    db,
    store,
    clock,
    loggerInstance: log,
    webRoot: config.webDir ?? DEFAULT_WEB_ROOT,
    onQueued: () => worker?.poke(),
  });
  for (const warning of await storeWarnings(store)) app.log.warn(warning);
  const expiry = startUploadExpiry({
    db,
    store,
    clock,
    ttlHours: config.uploadTtlHours,
    intervalSeconds: config.uploadExpiryIntervalSeconds,
    log: app.log,
  });
  const { filesRetentionDays, logRetentionDays, retentionIntervalSeconds } = config.keeping;
  const retention =
    filesRetentionDays !== undefined || logRetentionDays !== undefined
      ? startRetention({
          db,
          store,
          clock,
          filesDays: filesRetentionDays,
          logDays: logRetentionDays,
          intervalSeconds: retentionIntervalSeconds,
          log: app.log,
        })
      : undefined;
  const notifications = new NotificationDispatcher({
    db,
    clock,
    config: config.keeping,
    publicUrl: config.publicUrl,
    log: app.log.child({ component: 'notify' }),
  });
  notifications.start();
  if (options.worker && options.worker.commands.size > 0) {
    worker = new Worker({ db, store, config: options.worker, clock, log: app.log.child({ component: 'worker' }) });
    worker.start();
    app.log.info(
      { versions: [...options.worker.commands.keys()], slots: options.worker.slots },
      'in-process worker started',
    );
  } else {
    // The most common first-run surprise: jobs are accepted and then wait forever.
    app.log.warn(
      'this process runs no worker (no SPEOS_COMMAND_<VERSION> is set): submitted jobs wait until a worker starts here or with `speos-portal worker` (README, "Running SPEOS jobs")',
    );
  }
  app.addHook('onClose', async () => {
    await worker?.stop();
    await expiry.stop();
    await retention?.stop();
    await notifications.stop();
    await closeObjectStore(store);
    stopWatching();
    await db.destroy();
  });
  return { app, db, store, expiry, retention, notifications, worker };
}

/** One warning when the database becomes unreachable and one when it answers again, not one per request. */
export function watchDatabase(db: Db, log: FastifyBaseLogger): () => void {
  return databaseHealth(db).listen({
    down: (reason) =>
      log.warn(
        { backend: 'database', reason },
        `the database cannot be reached (${reason}); requests that need it answer 503 DATABASE_UNAVAILABLE until it is back`,
      ),
    up: (downForMs) =>
      log.warn(
        { backend: 'database', down_seconds: Math.round(downForMs / 100) / 10 },
        `the database answers again after ${(downForMs / 1000).toFixed(1)} s`,
      ),
  });
}
