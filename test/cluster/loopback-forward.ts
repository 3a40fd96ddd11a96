/**
 * Forwards 127.0.0.1:<port> to a Service's ClusterIP (kube-proxy's rules route it from the host),
 * so that the deployed API is at TRACEJOB_SERVER=http://127.0.0.1:<port>. A daemon of the
 * real-node cluster (started by cluster:up, stopped by cluster:down). Unlike `kubectl
 * port-forward` it does not go through the kubelet, so it keeps working while a test kills it.
 *
 *   node --import tsx test/cluster/loopback-forward.ts PORT HOST:PORT
 */
import { createConnection, createServer } from 'node:net';

const [listenPort, target] = process.argv.slice(2);
const [host, port] = (target ?? '').split(':');
if (!listenPort || !host || !port) {
  console.error('usage: loopback-forward.ts LISTEN_PORT HOST:PORT');
  process.exit(2);
}
const server = createServer((client) => {
  const upstream = createConnection({ host, port: Number(port) });
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(Number(listenPort), '127.0.0.1', () => console.log(`forwarding 127.0.0.1:${listenPort} to ${host}:${port}`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
