// (a) The ceiling: the least a server can do for an upload with integrity — stream one
// PUT body to disk while computing its MD5. No framework, no parts, no database.
// With "fsync" as third argument it also fsyncs before answering (a′), which is what a
// 200 means in speos-portal: the bytes are on stable storage.
import { createHash } from 'node:crypto';
import { close, createWriteStream, fsync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

const [dir, port, mode] = process.argv.slice(2);
let n = 0;
createServer((req, res) => {
  const hash = createHash('md5');
  const out = createWriteStream(path.join(dir, `upload-${n++}`), { autoClose: false });
  req.on('data', (chunk) => hash.update(chunk));
  req.pipe(out);
  out.on('finish', () => {
    const answer = () =>
      close(out.fd, () => {
        res.writeHead(200, { ETag: `"${hash.digest('hex')}"` });
        res.end();
      });
    if (mode === 'fsync') fsync(out.fd, answer);
    else answer();
  });
}).listen(Number(port), process.env.BENCH_HOST ?? '127.0.0.1', () => console.log('ready'));
