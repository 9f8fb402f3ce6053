import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import {X509Certificate} from 'node:crypto'

import {expect} from 'chai'

import {createCertAuthority, createTlsBundle, issueServerCert, loadCertAuthority, readTlsFiles, tlsPaths, writeTlsFiles} from '../../src/guest/tls.js'

describe('guest TLS material', function () {
  this.timeout(20_000)

  it('issues a CA, a server certificate with IP and DNS SANs, and a client certificate', async () => {
    const b = await createTlsBundle({serverNames: ['192.168.64.2', 'local.docker']})
    const ca = new X509Certificate(b.ca.cert)
    const server = new X509Certificate(b.server.cert)
    const client = new X509Certificate(b.client.cert)
    expect(ca.ca).to.equal(true)
    expect(server.ca).to.equal(false)
    expect(server.verify(ca.publicKey)).to.equal(true)
    expect(client.verify(ca.publicKey)).to.equal(true)
    expect(server.checkIP('192.168.64.2')).to.equal('192.168.64.2')
    expect(server.checkHost('local.docker')).to.equal('local.docker')
    expect(server.checkIP('192.168.64.3')).to.equal(undefined)
    expect(server.keyUsage).to.include('1.3.6.1.5.5.7.3.1')
    expect(client.keyUsage).to.include('1.3.6.1.5.5.7.3.2')
    expect(b.server.key).to.match(/^-----BEGIN PRIVATE KEY-----/)
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1')
  })

  it('verifies with openssl (as dockerd and the docker CLI will)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlite-tls-'))
    try {
      const p = await writeTlsFiles(path.join(dir, 'tls'), await createTlsBundle({serverNames: ['10.0.0.2']}))
      const out = execFileSync('openssl', ['verify', '-CAfile', p.ca, '-purpose', 'sslserver', p.serverCert], {encoding: 'utf8'})
      expect(out).to.include(': OK')
      const outC = execFileSync('openssl', ['verify', '-CAfile', p.ca, '-purpose', 'sslclient', p.clientCert], {encoding: 'utf8'})
      expect(outC).to.include(': OK')
      expect(statSync(p.clientKey).mode & 0o777).to.equal(0o600)
      expect(statSync(p.caKey).mode & 0o777).to.equal(0o600)
      expect(statSync(p.dir).mode & 0o777).to.equal(0o700)
      expect(path.basename(tlsPaths(dir).clientCert)).to.equal('cert.pem') // DOCKER_CERT_PATH layout
      const back = await readTlsFiles(p.dir)
      expect(back.server.cert).to.match(/BEGIN CERTIFICATE/)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('completes a mutual TLS handshake and refuses a client without a certificate', async () => {
    const b = await createTlsBundle({serverNames: ['127.0.0.1']})
    const server = tls.createServer({cert: b.server.cert, key: b.server.key, ca: b.ca.cert, requestCert: true, rejectUnauthorized: true}, (s) => s.end('ok'))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as {port: number}).port
    const connect = (withCert: boolean) => new Promise<string>((resolve, reject) => {
      const s = tls.connect({host: '127.0.0.1', port, ca: b.ca.cert, ...(withCert ? {cert: b.client.cert, key: b.client.key} : {})}, () => {})
      let data = ''
      s.on('data', (d) => (data += d))
      s.on('end', () => resolve(data))
      s.on('error', reject)
    })
    try {
      expect(await connect(true)).to.equal('ok')
      let refused = false
      try {
        const got = await connect(false)
        refused = got !== 'ok'
      } catch {
        refused = true
      }
      expect(refused).to.equal(true)
    } finally {
      server.close()
    }
  })

  it('reloads a CA from PEM to issue a new server certificate', async () => {
    const ca = await createCertAuthority({name: 'test CA'})
    const again = await loadCertAuthority({cert: ca.cert, key: ca.key})
    const s = await issueServerCert(again, ['192.168.70.2'])
    expect(new X509Certificate(s.cert).verify(new X509Certificate(ca.cert).publicKey)).to.equal(true)
    let error: unknown
    try {
      await issueServerCert(again, [])
    } catch (e) {
      error = e
    }
    expect(String(error)).to.match(/at least one IP or host name/)
  })
})
