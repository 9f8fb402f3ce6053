// `node --import tsx dig.ts <server> <port> <name> [type] [udp|tcp]`: one query, the answer as one JSON line.
// The e2e test runs it inside its network namespace, where the responder listens on the bridge address.
import {addresses, query} from './dns-client.js'

const [server, port, name, type = 'A', transport = 'udp'] = process.argv.slice(2)
try {
  const reply = await query(server, Number(port), name, type as 'A', {transport: transport as 'udp' | 'tcp', timeoutMs: 2000})
  process.stdout.write(`${JSON.stringify({rcode: reply.rcode, aa: reply.flag_aa, addresses: addresses(reply), ttls: (reply.answers ?? []).map((a) => (a as {ttl?: number}).ttl)})}\n`)
} catch (error) {
  process.stdout.write(`${JSON.stringify({error: (error as Error).message})}\n`)
  process.exitCode = 1
}
