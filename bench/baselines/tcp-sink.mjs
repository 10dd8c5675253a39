// The receiving end of the TCP loopback baseline: a separate node process that reads
// `bytesPerRound` bytes, then answers one byte, for as many rounds as the sender wants.
import net from 'node:net';

const bytesPerRound = Number(process.argv[2]);
const server = net.createServer((sock) => {
  let got = 0;
  sock.on('data', (chunk) => {
    got += chunk.length;
    while (got >= bytesPerRound) {
      got -= bytesPerRound;
      sock.write('k');
    }
  });
  sock.on('error', () => {});
  sock.on('close', () => process.exit(0));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(0), 30 * 60_000).unref();
