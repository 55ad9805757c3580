/** Prometheus metrics at GET /metrics: requests, bytes, parts, uploads by status, errors. */
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Db } from '../db/connect.js';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'speos_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'speos_errors_total',
    help: 'Error responses by API error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly bytesReceived = new Counter({
    name: 'speos_upload_bytes_received_total',
    help: 'Part bytes received by the embedded store (including attempts that failed)',
    registers: [this.registry],
  });
  readonly partsStored = new Counter({
    name: 'speos_upload_parts_stored_total',
    help: 'Parts stored durably and acknowledged with 200',
    registers: [this.registry],
  });
  readonly uploadsCompleted = new Counter({
    name: 'speos_uploads_completed_total',
    help: 'Uploads completed by this process',
    registers: [this.registry],
  });
  readonly uploadsAborted = new Counter({
    name: 'speos_uploads_aborted_total',
    help: 'Uploads aborted by this process',
    registers: [this.registry],
  });

  constructor(db: Db) {
    new Gauge({
      name: 'speos_uploads',
      help: 'Uploads in the database by status (UPLOADING = active)',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await db
          .selectFrom('uploads')
          .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
          .groupBy('status')
          .execute();
        this.reset();
        for (const status of ['UPLOADING', 'COMPLETED', 'ABORTED', 'EXPIRED']) {
          this.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'speos_' });
  }

  register(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      if (request.errorCode) this.errors.inc({ code: request.errorCode });
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('Content-Type', this.registry.contentType);
      return this.registry.metrics();
    });
  }
}
