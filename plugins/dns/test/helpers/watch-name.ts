// `node --import tsx watch-name.ts <server> <port> <name> <answer|nxdomain> <timeout ms>`: asks for the name
// every 20 ms until the answer has addresses (answer) or is NXDOMAIN, then prints one JSON line with the
// wall-clock time it first saw that. It prints `{"ready":…}` after its first answer, so a test can start it,
// wait for ready, change something (docker run/stop) and compare its own clock with `at`.
import {addresses, query} from './dns-client.js'

const [server, port, name, until, timeout = '10000'] = process.argv.slice(2)
const deadline = Date.now() + Number(timeout)
let ready = false
let last = ''
while (Date.now() < deadline) {
  const reply = await query(server, Number(port), name, 'A', {timeoutMs: 500}).catch((error: Error) => error)
  const state = reply instanceof Error ? `error: ${reply.message}` : reply.rcode
  if (!ready) {
    ready = true
    process.stdout.write(`${JSON.stringify({ready: Date.now(), state})}\n`)
  }
  last = state
  if (!(reply instanceof Error)) {
    const found = addresses(reply)
    if ((until === 'answer' && found.length > 0) || (until === 'nxdomain' && reply.rcode === 'NXDOMAIN')) {
      process.stdout.write(`${JSON.stringify({at: Date.now(), rcode: reply.rcode, addresses: found})}\n`)
      process.exit(0)
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 20))
}
process.stdout.write(`${JSON.stringify({timeout: true, last})}\n`)
process.exit(1)
