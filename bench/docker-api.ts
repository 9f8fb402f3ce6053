// Docker API overhead of the host socket: GET /_ping through dlite's unix socket (proxied to the guest over
// TLS) against the same request straight to the guest's dockerd over TLS with the client certificate.
// Batches alternate between the two paths; latency percentiles and throughput are compared. Then a ~100 MB
// image goes through `docker save | docker load` on each path in turn, for bulk throughput.
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'

import {median, percentile, round} from './stats.js'
import type {BenchResult} from './result.js'
import {sandboxVm} from './sandbox-vm.js'

const REQUESTS = 1000
const BATCH = 100
const IMAGE_MIB = 100
const SAVE_LOAD_ROUNDS = 3

// Runs inside the namespace (the guest is only reachable there): one batch on one path, one line of JSON.
const BATCH_SCRIPT = `
const {DockerClient} = await import(process.env.CLIENT_MODULE)
const endpoint = process.env.ENDPOINT === 'unix'
  ? {kind: 'unix', socketPath: process.env.SOCKET}
  : {kind: 'tls', host: process.env.VM_IP, port: 2376, ca: process.env.CA, cert: process.env.CERT, key: process.env.KEY}
const client = new DockerClient(endpoint)
await client.ping()
const times = []
const start = performance.now()
for (let i = 0; i < Number(process.env.COUNT); i++) {
  const t = performance.now()
  if (!(await client.ping())) throw new Error('ping failed')
  times.push(performance.now() - t)
}
console.log(JSON.stringify({times, totalMs: performance.now() - start}))
`

export async function dockerApi(): Promise<BenchResult> {
  const vm = await sandboxVm({start: true})
  try {
    const tls = join(vm.home, 'tls')
    const env = {
      ...process.env,
      CLIENT_MODULE: new URL('../dist/docker/client.js', import.meta.url).href,
      SOCKET: vm.socket, VM_IP: '192.168.64.2', COUNT: String(BATCH),
      CA: readFileSync(join(tls, 'ca.pem'), 'utf8'), CERT: readFileSync(join(tls, 'cert.pem'), 'utf8'), KEY: readFileSync(join(tls, 'key.pem'), 'utf8'),
    }
    const samples: Record<string, number[]> = {'host socket': [], 'direct TLS': []}
    const totals: Record<string, number> = {'host socket': 0, 'direct TLS': 0}
    for (let done = 0; done < REQUESTS; done += BATCH) {
      for (const [name, endpoint] of [['host socket', 'unix'], ['direct TLS', 'tls']] as const) {
        const out = await vm.ns.run(process.execPath, ['--input-type=module', '-e', BATCH_SCRIPT], {env: {...env, ENDPOINT: endpoint}, timeoutMs: 300_000})
        if (out.code !== 0) throw new Error(`${name} batch failed: ${out.stderr}`)
        const {times, totalMs} = JSON.parse(out.stdout) as {times: number[]; totalMs: number}
        samples[name].push(...times)
        totals[name] += totalMs
      }
    }
    const rps = (name: string) => (samples[name].length / totals[name]) * 1000
    const throughputRatio = round(rps('host socket') / rps('direct TLS'))

    // A ~100 MB single-layer image (random data, so nothing compresses it away), saved and loaded through one
    // path at a time: the docker CLI's own transfer, as a user's `docker save | docker load` would do.
    const content = join(vm.dir, 'big-image')
    mkdirSync(content)
    execFileSync('dd', ['if=/dev/urandom', `of=${join(content, 'payload')}`, 'bs=1M', `count=${IMAGE_MIB}`], {stdio: 'ignore'})
    const cli = {
      'host socket': `docker -H unix://${vm.socket}`,
      'direct TLS': `docker -H tcp://192.168.64.2:2376 --tlsverify --tlscacert ${join(tls, 'ca.pem')} --tlscert ${join(tls, 'cert.pem')} --tlskey ${join(tls, 'key.pem')}`,
    } as const
    const sh = async (command: string) => {
      const out = await vm.ns.run('sh', ['-c', command], {timeoutMs: 900_000, env: {...process.env, DOCKER_CONFIG: join(vm.dir, 'docker-config')}})
      if (out.code !== 0) throw new Error(`${command} failed: ${out.stderr}`)
    }
    await sh(`tar -C ${content} -c . | ${cli['host socket']} import - big:bench`)
    const saveLoad: Record<string, number[]> = {'host socket': [], 'direct TLS': []}
    for (let r = 0; r < SAVE_LOAD_ROUNDS; r++) {
      for (const name of ['host socket', 'direct TLS'] as const) {
        const start = performance.now()
        await sh(`${cli[name]} save big:bench | ${cli[name]} load`)
        saveLoad[name].push((performance.now() - start) / 1000)
      }
    }
    const mbps = (name: string) => (2 * IMAGE_MIB) / median(saveLoad[name])
    const bulkRatio = round(mbps('host socket') / mbps('direct TLS'))
    return {
      name: 'docker-api',
      method: `${REQUESTS} GET /_ping per path in alternating batches of ${BATCH}, sequential requests through Node's default (keep-alive) agents ` +
        'client per batch; the host socket path pipes each connection to the guest over TLS. ' +
        `Bulk: a ${IMAGE_MIB} MiB single-layer image of random data, \`docker save | docker load\` through one path at a ` +
        `time, alternating, ${SAVE_LOAD_ROUNDS} rounds, median; MiB/s counts both directions (${2 * IMAGE_MIB} MiB moved).`,
      rows: [
        {metric: `docker save | docker load, ${IMAGE_MIB} MiB image`, value: round(mbps('host socket'), 1), unit: 'MiB/s',
          baseline: round(mbps('direct TLS'), 1), baselineName: 'direct TLS', ratio: bulkRatio, target: '>= 0.8 of direct', met: bulkRatio >= 0.8},
        {metric: 'GET /_ping throughput', value: round(rps('host socket'), 0), unit: 'req/s', baseline: round(rps('direct TLS'), 0),
          baselineName: 'direct TLS', ratio: throughputRatio, target: '>= 0.8 of direct', met: throughputRatio >= 0.8},
        {metric: 'GET /_ping latency p50', value: round(median(samples['host socket'])), unit: 'ms', baseline: round(median(samples['direct TLS'])),
          baselineName: 'direct TLS', ratio: round(median(samples['host socket']) / median(samples['direct TLS']))},
        {metric: 'GET /_ping latency p99', value: round(percentile(samples['host socket'], 99)), unit: 'ms',
          baseline: round(percentile(samples['direct TLS'], 99)), baselineName: 'direct TLS',
          ratio: round(percentile(samples['host socket'], 99) / percentile(samples['direct TLS'], 99))},
      ],
      samples: {...Object.fromEntries(Object.entries(saveLoad).map(([k, v]) => [`save|load s, ${k}`, v]))},
    }
  } finally {
    await vm.close()
  }
}
