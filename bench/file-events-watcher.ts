// The process the file-events benchmark measures: the daemon's ShareEvents alone (mode "watch"), or the same
// Node process with the same module loaded and nothing started (mode "bare", the baseline). It says "ready"
// when the walk is done and answers "cpu" with its own CPU time, so each is measured from inside itself.
import {ShareEvents} from '../src/daemon/share-events.js'

const [mode, socketPath, root] = process.argv.slice(2)
const send = (message: unknown) => process.send?.(message)

if (mode === 'watch') {
  const logs: string[] = []
  const events = new ShareEvents({socketPath, roots: [root], log: (line) => logs.push(line)})
  await events.connect(5000)
  events.start()
  const deadline = Date.now() + 60_000
  while (!logs.some((line) => line.includes('watching')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  send({ready: true, log: logs})
} else {
  setInterval(() => {}, 1 << 30) // stay alive, as the daemon does
  send({ready: true, log: []})
}

process.on('message', (message) => {
  if (message === 'cpu') {
    const {user, system} = process.cpuUsage()
    send({cpuMs: (user + system) / 1000, rssMiB: process.memoryUsage().rss / 1024 ** 2})
  }
})
