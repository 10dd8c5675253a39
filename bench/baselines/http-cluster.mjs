// The baseline of the serve rows: a plain node:cluster HTTP server with 2 workers answering
// the body a no-op deployment answers ('ok'). Prints its port on stdout once both listen.
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const WORKERS = 2;
if (cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('message', (_w, msg) => {
    if (++ready === WORKERS) process.stdout.write(`${msg.port}\n`);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/plain;charset=UTF-8');
    res.end('ok');
  });
  // Workers share the port the primary picks for port 0.
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}
