// (b) tus: the reference client, 5 MiB chunks (its parallel mode is unsupported by @tus/server).
import { createReadStream, statSync } from 'node:fs';
import * as tus from 'tus-js-client';

const [file, endpoint] = process.argv.slice(2);
const size = statSync(file).size;
await new Promise((resolve, reject) => {
  const upload = new tus.Upload(createReadStream(file), {
    endpoint,
    chunkSize: 5 * 1024 * 1024,
    uploadSize: size,
    retryDelays: [0, 500],
    metadata: { filename: 'bench.bin' },
    onError: reject,
    onSuccess: resolve,
  });
  upload.start();
});
