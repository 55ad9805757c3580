// (b) tus: the reference server with its file store.
import { createServer } from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const [dir, port] = process.argv.slice(2);
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
createServer((req, res) => tus.handle(req, res)).listen(Number(port), process.env.BENCH_HOST ?? '127.0.0.1', () =>
  console.log('ready'),
);
