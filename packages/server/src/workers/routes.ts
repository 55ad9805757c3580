/** `GET /workers`: who runs SPEOS jobs, so people can tell a queue that moves from one that never will. */
import { WorkerListResponse } from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import { toSeconds } from '../clock.js';
import type { Db } from '../db/connect.js';
import { errorResponses } from '../http/openapi.js';
import { listWorkers } from './registry.js';

export interface WorkerRoutesOptions {
  db: Db;
  clock: Clock;
  hide: boolean;
}

export const workerRoutes: FastifyPluginAsync<WorkerRoutesOptions> = async (app, { db, clock, hide }) => {
  app.get(
    '/workers',
    {
      schema: {
        hide,
        tags: ['workers'],
        summary: 'The workers that run SPEOS jobs: versions, slots, running tasks, last heartbeat, online or not',
        response: { 200: WorkerListResponse, ...errorResponses([]) },
      },
    },
    async (): Promise<WorkerListResponse> => {
      const workers = await listWorkers(db, clock());
      return {
        items: workers.map((w) => ({
          ...w,
          started_at: toSeconds(w.started_at),
          last_heartbeat: toSeconds(w.last_heartbeat),
        })),
        online: workers.filter((w) => w.online).length,
      };
    },
  );
};
