// Forwarding names that are not ours to upstream resolvers: the query goes out with a fresh random ID (a
// fresh UDP socket per query, so a random source port too) and the first upstream that answers wins; only a
// reply from the address and port we asked, carrying that ID, is taken, and the client gets its own ID back.
// A client's ID is its own to choose; passed on, a predictable one would make forged replies easy. `system` means the
// host's own resolvers; the daemon runs on the host, so even a loopback resolver is reachable, but never
// ourselves (a loop) nor systemd-resolved's stub, which may route names back to us.
import {randomBytes} from 'node:crypto'
import {createSocket} from 'node:dgram'
import {readFileSync} from 'node:fs'
import {isIP, Socket} from 'node:net'

import {parseUpstream, type Upstream} from './settings.js'
import type {Transport} from './responder.js'

const FORWARD_TIMEOUT_MS = 2000
/** systemd-resolved's stub listeners: forwarding to them could come straight back (resolved sends ~docker to us). */
const RESOLVED_STUBS = new Set(['127.0.0.53', '127.0.0.54'])
/** systemd-resolved's list of the real upstream servers, for programs that must bypass the stub. */
export const RESOLVED_UPSTREAMS_FILE = '/run/systemd/resolve/resolv.conf'

/** `nameserver` lines of a resolv.conf. */
export function nameservers(resolvConf: string): Upstream[] {
  const servers: Upstream[] = []
  for (const line of resolvConf.split('\n')) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line)
    if (!match) continue
    const host = match[1].replace(/%.*$/, '') // drop an IPv6 zone index
    if (isIP(host) !== 0) servers.push({host, port: 53})
  }
  return servers
}

/** The host's resolvers, without the addresses we listen on and without resolved's stub. */
export function systemUpstreams(files: string[], exclude: Upstream[], read: (path: string) => string = (p) => readFileSync(p, 'utf8')): Upstream[] {
  for (const file of files) {
    let text: string
    try {
      text = read(file)
    } catch {
      continue
    }
    const servers = nameservers(text).filter((s) => !RESOLVED_STUBS.has(s.host) && !exclude.some((e) => e.host === s.host && e.port === s.port))
    if (servers.length > 0) return servers
  }
  return []
}

/** The upstreams the settings name, parsed once: `system` stays a marker, filled in at the time of each query. */
export type ConfiguredUpstream = Upstream | 'system'

export function parseUpstreams(upstream: string[]): ConfiguredUpstream[] {
  return upstream.map((u) => (u === 'system' ? 'system' : parseUpstream(u)))
}

/** The parsed upstreams with `system` resolved by `system()`. */
export function resolveUpstreams(configured: ConfiguredUpstream[], system: () => Upstream[]): Upstream[] {
  return configured.flatMap((u) => (u === 'system' ? system() : [u]))
}

/** The upstreams the settings name, resolving `system` with `system()` (read at the time of the query). */
export function settingsUpstreams(upstream: string[], system: () => Upstream[]): Upstream[] {
  return resolveUpstreams(parseUpstreams(upstream), system)
}

/**
 * The one way a forwarded query ends: the first call wins (an answer, or undefined on error or after
 * timeoutMs), the socket is closed, and later calls do nothing.
 */
function settleOnce(timeoutMs: number, close: () => void, resolve: (response: Buffer | undefined) => void): (response: Buffer | undefined) => void {
  let done = false
  const finish = (response: Buffer | undefined) => {
    if (done) return
    done = true
    clearTimeout(timer)
    close()
    resolve(response)
  }
  const timer = setTimeout(() => finish(undefined), timeoutMs)
  return finish
}

/** The same address however it is written (::ffff:a.b.c.d is a.b.c.d; IPv6 case). */
function sameAddress(a: string, b: string): boolean {
  const plain = (text: string) => text.replace(/^::ffff:(?=\d+\.)/i, '').toLowerCase()
  return plain(a) === plain(b)
}

/** The query with `id` in place of the client's. */
function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message)
  copy.writeUInt16BE(id, 0)
  return copy
}

function forwardUdp(query: Buffer, upstream: Upstream, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(upstream.host) === 6 ? 'udp6' : 'udp4')
    const finish = settleOnce(timeoutMs, () => socket.close(), resolve)
    socket.on('error', () => finish(undefined))
    socket.on('message', (message, from) => {
      // Only the server we asked, answering this query's ID; anything else is ignored and the wait goes on.
      if (!sameAddress(from.address, upstream.host) || from.port !== upstream.port) return
      if (message.length < 12 || message.readUInt16BE(0) !== query.readUInt16BE(0)) return
      finish(message)
    })
    socket.send(query, upstream.port, upstream.host, (error) => {
      if (error) finish(undefined)
    })
  })
}

function forwardTcp(query: Buffer, upstream: Upstream, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket()
    let buffer: Buffer = Buffer.alloc(0)
    const finish = settleOnce(timeoutMs, () => socket.destroy(), resolve)
    socket.on('error', () => finish(undefined))
    socket.on('close', () => finish(undefined))
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      if (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) finish(buffer.subarray(2, 2 + buffer.readUInt16BE(0)))
    })
    socket.connect(upstream.port, upstream.host, () => {
      const length = Buffer.alloc(2)
      length.writeUInt16BE(query.length)
      socket.write(Buffer.concat([length, query]))
    })
  })
}

/**
 * Tries each upstream in turn over the client's transport. A truncated answer goes back to a UDP client as it
 * is: the client asks again over TCP, and that query is forwarded over TCP.
 */
export async function forwardQuery(query: Buffer, upstreams: Upstream[], transport: Transport, timeoutMs = FORWARD_TIMEOUT_MS): Promise<Buffer | undefined> {
  const clientId = query.readUInt16BE(0)
  for (const upstream of upstreams) {
    const sent = withId(query, randomBytes(2).readUInt16BE(0))
    let response = transport === 'tcp' ? await forwardTcp(sent, upstream, timeoutMs) : await forwardUdp(sent, upstream, timeoutMs)
    if (response !== undefined && (response.length < 12 || response.readUInt16BE(0) !== sent.readUInt16BE(0))) response = undefined
    const truncated = response !== undefined && (response.readUInt16BE(2) & 0x0200) !== 0
    if (truncated && transport === 'tcp') response = undefined
    if (response) return withId(response, clientId)
  }
  return undefined
}
