// A small client for the docker Engine API, over the host unix socket or directly over TLS to the guest.
// Used by status, by the daemon's readiness check and by plugins (through dlite-cli/plugin).
import {request as httpRequest, type RequestOptions} from 'node:http'
import {request as httpsRequest} from 'node:https'

export type DockerEndpoint =
  | {kind: 'unix'; socketPath: string}
  /** servername: the name the certificate is checked against when it is not `host` (a vmnet VM's address comes from DHCP). */
  | {kind: 'tls'; host: string; port: number; ca: string | Buffer; cert: string | Buffer; key: string | Buffer; servername?: string}

export interface DockerResponse<T = unknown> {
  status: number
  body: T
}

export interface DockerEvent {
  Type: string
  Action: string
  Actor: {ID: string; Attributes: Record<string, string>}
  time: number
}

export class DockerClient {
  constructor(readonly endpoint: DockerEndpoint, private readonly timeoutMs = 30_000) {}

  private options(method: string, path: string): RequestOptions {
    const base = {method, path, headers: {'content-type': 'application/json'}}
    // Over a unix socket the Host header is arbitrary; over TLS it must stay the address the certificate names.
    if (this.endpoint.kind === 'unix') return {...base, headers: {...base.headers, host: 'docker'}, socketPath: this.endpoint.socketPath}
    const {host, port, ca, cert, key, servername} = this.endpoint
    return {...base, host, port, ca, cert, key, ...(servername ? {servername} : {})} as RequestOptions
  }

  private send(options: RequestOptions) {
    return this.endpoint.kind === 'unix' ? httpRequest(options) : httpsRequest(options)
  }

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<DockerResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = this.send(this.options(method, path))
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`docker API ${method} ${path} timed out`)))
      req.on('error', reject)
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          if ((res.headers['content-type'] ?? '').includes('json') && text) {
            try {
              parsed = JSON.parse(text)
            } catch {
              // leave as text
            }
          }
          resolve({status: res.statusCode ?? 0, body: parsed as T})
        })
      })
      req.end(body === undefined ? undefined : JSON.stringify(body))
    })
  }

  async ping(): Promise<boolean> {
    try {
      const res = await this.request<string>('GET', '/_ping')
      return res.status === 200 && res.body === 'OK'
    } catch {
      return false
    }
  }

  async version(): Promise<{Version: string; ApiVersion: string; KernelVersion?: string}> {
    const res = await this.request<{Version: string; ApiVersion: string; KernelVersion?: string}>('GET', '/version')
    if (res.status !== 200) throw new Error(`docker API /version answered ${res.status}`)
    return res.body
  }

  /**
   * Streams engine events until `stop()` is called; `onEvent` gets each parsed event. A refused request, a
   * line that is not JSON or an `onEvent` that throws ends the stream: `done` rejects (it never throws into
   * the caller's event loop, where it would take a daemon down).
   */
  events(onEvent: (event: DockerEvent) => void, filters?: Record<string, string[]>): {stop(): void; done: Promise<void>} {
    const query = filters ? `?filters=${encodeURIComponent(JSON.stringify(filters))}` : ''
    const req = this.send(this.options('GET', `/events${query}`))
    const done = new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        req.destroy()
        reject(error)
      }
      req.on('error', (error) => (stopped ? resolve() : reject(error)))
      req.on('response', (res) => {
        let buffer = ''
        res.setEncoding('utf8')
        if (res.statusCode !== 200) {
          res.on('data', (chunk: string) => (buffer += chunk))
          res.on('end', () => fail(new Error(`docker API /events answered ${res.statusCode}: ${buffer.trim()}`)))
          return
        }
        res.on('data', (chunk: string) => {
          buffer += chunk
          let newline: number
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim()
            buffer = buffer.slice(newline + 1)
            if (!line) continue
            try {
              onEvent(JSON.parse(line) as DockerEvent)
            } catch (error) {
              fail(error as Error)
              return
            }
          }
        })
        res.on('end', () => resolve())
        res.on('error', (error) => (stopped ? resolve() : reject(error)))
      })
    })
    let stopped = false
    req.end()
    return {
      stop() {
        stopped = true
        req.destroy()
      },
      done,
    }
  }
}
