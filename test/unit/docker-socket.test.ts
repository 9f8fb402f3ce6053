// The host docker socket proxy against a TLS server on loopback, with certificates made the way install makes them.
import {expect} from 'chai'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {createServer, type Server} from 'node:tls'

import {serveDockerSocket, type DockerSocket} from '../../src/daemon/docker-socket.js'
import {createTlsBundle, type TlsBundle} from '../../src/guest/tls.js'

describe('host docker socket proxy', function () {
  this.timeout(20_000)
  let dir: string
  let bundle: TlsBundle
  let upstream: Server
  let port: number
  let proxy: DockerSocket | undefined

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-proxy-'))
    bundle = await createTlsBundle({serverNames: ['127.0.0.1', 'local.docker']})
    // Like dockerd's hijacked attach: it keeps writing after the client has shut its write side.
    upstream = createServer({
      ca: bundle.ca.cert, cert: bundle.server.cert, key: bundle.server.key, requestCert: true, rejectUnauthorized: true,
      allowHalfOpen: true,
    }, (socket) => {
      let received = ''
      socket.on('data', (d) => (received += d))
      socket.on('end', () => socket.end(`got ${received}; still talking after your EOF`))
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    port = (upstream.address() as {port: number}).port
  })

  afterEach(async () => {
    await proxy?.close()
    proxy = undefined
  })

  after(() => {
    upstream.close()
    rmSync(dir, {recursive: true, force: true})
  })

  const open = (path: string, client = bundle.client) =>
    serveDockerSocket({path, target: {host: '127.0.0.1', port}, tls: {ca: bundle.ca.cert, cert: client.cert, key: client.key}})

  function exchange(path: string, payload: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({path, allowHalfOpen: true})
      let answer = ''
      socket.on('data', (d) => (answer += d))
      socket.on('end', () => resolve(answer))
      socket.on('error', reject)
      socket.end(payload)
    })
  }

  it("is the owner's alone (0600) unless a group is given, and never world-accessible", async () => {
    const path = join(dir, 'mode.sock')
    proxy = await open(path)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    await proxy.close()
    const gid = process.getgid!()
    proxy = await serveDockerSocket({path, gid, target: {host: '127.0.0.1', port}, tls: {ca: bundle.ca.cert, cert: bundle.client.cert, key: bundle.client.key}})
    expect(statSync(path).mode & 0o777).to.equal(0o660)
    expect(statSync(path).gid).to.equal(gid)
  })

  it('passes bytes both ways over TLS and survives a half-close', async () => {
    const path = join(dir, 'half.sock')
    proxy = await open(path)
    expect(await exchange(path, 'ping')).to.equal('got ping; still talking after your EOF')
  })

  it('removes the socket file on close', async () => {
    const path = join(dir, 'close.sock')
    proxy = await open(path)
    await proxy.close()
    proxy = undefined
    expect(() => statSync(path)).to.throw()
  })

  it('a client certificate from another CA is refused by the server', async () => {
    const stranger = await createTlsBundle({serverNames: ['127.0.0.1']})
    const path = join(dir, 'stranger.sock')
    const errors: Error[] = []
    proxy = await serveDockerSocket({
      path, target: {host: '127.0.0.1', port},
      tls: {ca: bundle.ca.cert, cert: stranger.client.cert, key: stranger.client.key},
      onError: (error) => errors.push(error),
    })
    const answer = await exchange(path, 'ping').catch(() => '')
    expect(answer).to.equal('')
  })

  it('a server whose certificate another CA signed (someone else on the port) gets nothing: the proxy refuses it', async () => {
    const impostor = await createTlsBundle({serverNames: ['127.0.0.1', 'local.docker']})
    let heard = ''
    const fake = createServer({ca: impostor.ca.cert, cert: impostor.server.cert, key: impostor.server.key}, (socket) => {
      socket.on('data', (d) => (heard += d))
    })
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve))
    const errors: Error[] = []
    try {
      const path = join(dir, 'impostor.sock')
      proxy = await serveDockerSocket({
        path, target: {host: '127.0.0.1', port: (fake.address() as {port: number}).port},
        tls: {ca: bundle.ca.cert, cert: bundle.client.cert, key: bundle.client.key},
        onError: (error) => errors.push(error),
      })
      expect(await exchange(path, 'GET /secrets').catch(() => '')).to.equal('')
      expect(heard).to.equal('')
      expect(errors.map((error) => (error as NodeJS.ErrnoException).code)).to.include('SELF_SIGNED_CERT_IN_CHAIN') // its CA is not ours
    } finally {
      fake.close()
    }
  })
})
