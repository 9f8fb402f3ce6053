// Published-port throughput: a container serves a 64 MiB file over HTTP with `-p 8080:80`; the host downloads
// it through the forwarded port on 127.0.0.1 and, in the same run, alternating, straight from the VM's own
// address (bridged). The target is the forward at >= 0.8 of the VM's address. A user-mode VM is measured
// after it (its forward is QEMU's own host forward; it has no address to compare with, so it is shown
// against the same bridged baseline for scale).

import {median, round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm, type SandboxVm} from './sandbox-vm.js'

const PAYLOAD_MIB = 64
const ROUNDS = 5
const VM_IP = '192.168.64.2'

// Runs inside the namespace: one download, one line of JSON.
const DOWNLOAD_SCRIPT = `
const started = performance.now()
let bytes = 0
require('http').get(process.env.URL, (res) => {
  res.on('data', (chunk) => { bytes += chunk.length })
  res.on('end', () => console.log(JSON.stringify({status: res.statusCode, bytes, ms: performance.now() - started})))
}).on('error', (error) => { console.error(error.message); process.exit(1) })
`

async function download(vm: SandboxVm, url: string): Promise<number> {
  const out = await vm.ns.run(process.execPath, ['-e', DOWNLOAD_SCRIPT], {env: {...process.env, URL: url}, timeoutMs: 300_000})
  if (out.code !== 0) throw new Error(`download of ${url} failed: ${out.stderr}`)
  const {status, bytes, ms} = JSON.parse(out.stdout) as {status: number; bytes: number; ms: number}
  if (status !== 200 || bytes !== PAYLOAD_MIB * 1024 * 1024) throw new Error(`${url}: status ${status}, ${bytes} bytes`)
  return bytes / 1024 / 1024 / (ms / 1000)
}

async function serveBigFile(vm: SandboxVm): Promise<void> {
  await vm.importBusybox()
  await vm.docker(['run', '-d', '--name', 'big', '-p', '8080:80', 'busybox:local', '/bin/sh', '-c',
    `mkdir -p /www && dd if=/dev/urandom of=/www/big bs=1M count=${PAYLOAD_MIB} 2>/dev/null && touch /www/ready && exec /bin/httpd -f -p 80 -h /www`])
  for (let i = 0; i < 240; i++) {
    const ready = await vm.ns.run(process.execPath, ['-e', `require('http').get('http://127.0.0.1:8080/ready', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`], {timeoutMs: 10_000})
    if (ready.code === 0) return
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error('the file server never came up')
}

export async function portForward(): Promise<BenchResult> {
  const samples: Record<string, number[]> = {'bridged: 127.0.0.1 forward': [], 'bridged: VM address': [], 'user: 127.0.0.1 forward': []}
  const bridged = await sandboxVm({start: true, network: 'bridged'})
  try {
    await serveBigFile(bridged)
    await download(bridged, 'http://127.0.0.1:8080/big') // warm-up: guest page cache, TCP windows
    for (let r = 0; r < ROUNDS; r++) {
      samples['bridged: 127.0.0.1 forward'].push(await download(bridged, 'http://127.0.0.1:8080/big'))
      samples['bridged: VM address'].push(await download(bridged, `http://${VM_IP}:8080/big`))
    }
  } finally {
    await bridged.close()
  }
  const user = await sandboxVm({start: true, network: 'user'})
  try {
    await serveBigFile(user)
    await download(user, 'http://127.0.0.1:8080/big')
    for (let r = 0; r < ROUNDS; r++) samples['user: 127.0.0.1 forward'].push(await download(user, 'http://127.0.0.1:8080/big'))
  } finally {
    await user.close()
  }
  const mbps = (name: string) => median(samples[name])
  const forwardRatio = round(mbps('bridged: 127.0.0.1 forward') / mbps('bridged: VM address'))
  const userRatio = round(mbps('user: 127.0.0.1 forward') / mbps('bridged: VM address'))
  return {
    name: 'port-forward',
    method: `A container publishes busybox httpd with -p 8080:80 serving ${PAYLOAD_MIB} MiB of random data; a Node client in the ` +
      `namespace downloads it, one warm-up, then ${ROUNDS} rounds alternating the forwarded port (127.0.0.1:8080, the daemon's ` +
      `TCP proxy) and the VM's own address (${VM_IP}:8080) on one bridged VM; median MiB/s. Then a user-mode VM, where ` +
      '127.0.0.1:8080 is QEMU\'s own host forward (hostfwd_add), measured the same way against the bridged baseline.',
    rows: [
      {metric: `download ${PAYLOAD_MIB} MiB through the forwarded port (bridged)`, value: round(mbps('bridged: 127.0.0.1 forward'), 1), unit: 'MiB/s',
        baseline: round(mbps('bridged: VM address'), 1), baselineName: 'the VM\'s own address', ratio: forwardRatio, target: '>= 0.8', met: forwardRatio >= 0.8},
      {metric: `download ${PAYLOAD_MIB} MiB through the forwarded port (user mode)`, value: round(mbps('user: 127.0.0.1 forward'), 1), unit: 'MiB/s',
        baseline: round(mbps('bridged: VM address'), 1), baselineName: 'a bridged VM\'s own address', ratio: userRatio},
    ],
    samples,
  }
}
