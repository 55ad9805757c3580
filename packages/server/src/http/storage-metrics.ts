/**
 * /metrics for a long-running portal (issue 17): bytes stored, tasks by status, and the
 * notification outbox — its backlog and its failures. Read from the database at each
 * scrape, so every server reports the same numbers and they survive restarts.
 */
import { TASK_STATUSES } from '@speos-portal/protocol';
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/connect.js';
import { storedBytesByOwner } from '../quota/usage.js';

export function registerStorageMetrics(registry: Registry, db: Db): void {
  new Gauge({
    name: 'speos_stored_bytes',
    help: 'Bytes in storage: uploads (unfinished ones at full size) and results not deleted by retention',
    registers: [registry],
    async collect() {
      const rows = await storedBytesByOwner(db);
      this.set(rows.reduce((sum, r) => sum + r.used_bytes, 0));
    },
  });
  new Gauge({
    name: 'speos_tasks',
    help: 'Tasks in the database by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .selectFrom('tasks')
        .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
        .groupBy('status')
        .execute();
      this.reset();
      for (const status of TASK_STATUSES) this.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
    },
  });
  new Gauge({
    name: 'speos_tasks_files_expired',
    help: 'Tasks whose files retention has deleted',
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom('tasks')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('files_expired_at', 'is not', null)
        .executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'speos_notifications_backlog',
    help: 'Notifications not delivered yet (pending deliveries, and events not yet turned into deliveries)',
    registers: [registry],
    async collect() {
      const pending = await db
        .selectFrom('notification_deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'PENDING')
        .executeTakeFirst();
      const fresh = await db
        .selectFrom('notification_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('fanned_out', '=', 0)
        .executeTakeFirst();
      this.set(Number(pending?.n ?? 0) + Number(fresh?.n ?? 0));
    },
  });
  new Gauge({
    name: 'speos_notifications_failed',
    help: 'Notifications given up after NOTIFY_GIVE_UP_HOURS of failed attempts',
    registers: [registry],
    async collect() {
      const row = await db
        .selectFrom('notification_deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('status', '=', 'FAILED')
        .executeTakeFirst();
      this.set(Number(row?.n ?? 0));
    },
  });
  new Gauge({
    name: 'speos_notification_attempts_failed',
    help: 'Delivery attempts that failed (receiver down, refused, SMTP error), over all kept deliveries',
    registers: [registry],
    async collect() {
      const rows = await db
        .selectFrom('notification_deliveries')
        .select([
          'status',
          (eb) => eb.fn.sum<number>('attempts').as('attempts'),
          (eb) => eb.fn.countAll<number>().as('n'),
        ])
        .groupBy('status')
        .execute();
      let failed = 0;
      for (const row of rows) {
        const attempts = Number(row.attempts ?? 0);
        // A delivered (or skipped) one failed every attempt but its last.
        failed += row.status === 'DELIVERED' || row.status === 'SKIPPED' ? attempts - Number(row.n) : attempts;
      }
      this.set(failed);
    },
  });
}
