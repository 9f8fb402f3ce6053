import {execFileSync} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import {createPublicKey, X509Certificate} from 'node:crypto'

import {expect} from 'chai'

import {createCertAuthority, createTlsBundle, issueServerCert, readTlsFiles, removeLegacyCaKey, tlsPaths, writeTlsFiles} from '../../src/guest/tls.js'

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

  it('keeps no key that can sign for the CA: reading the tls directory is not enough to mint a certificate dlite trusts', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlite-tls-'))
    try {
      const bundle = await createTlsBundle({serverNames: ['10.0.0.2']})
      expect(Object.keys(bundle.ca)).to.deep.equal(['cert'])
      const p = await writeTlsFiles(path.join(dir, 'tls'), bundle)
      expect(readdirSync(p.dir).sort()).to.deep.equal(['ca.pem', 'cert.pem', 'key.pem', 'server-cert.pem', 'server-key.pem'])
      const caPublic = new X509Certificate(readFileSync(p.ca)).publicKey.export({type: 'spki', format: 'der'})
      for (const name of readdirSync(p.dir)) {
        const text = readFileSync(path.join(p.dir, name), 'utf8')
        if (!text.includes('PRIVATE KEY')) continue
        const publicOfKey = createPublicKey(text).export({type: 'spki', format: 'der'})
        expect(publicOfKey.equals(caPublic), `${name} is the CA's key`).to.equal(false)
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('a CA key an older dlite left is removed by its user, and a certificate issued with it still verifies', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dlite-tls-'))
    try {
      const ca = await createCertAuthority({name: 'old CA'})
      const server = await issueServerCert(ca, ['192.168.70.2'])
      expect(new X509Certificate(server.cert).verify(new X509Certificate(ca.cert).publicKey)).to.equal(true)
      writeFileSync(path.join(dir, 'ca-key.pem'), ca.key, {mode: 0o600})
      const removed = await removeLegacyCaKey(dir)
      if (process.getuid?.() === 0) {
        // root does not unlink by path in a directory a user controls: the user's own daemon does it
        expect(removed).to.equal(false)
        expect(existsSync(path.join(dir, 'ca-key.pem'))).to.equal(true)
      } else {
        expect(removed).to.equal(true)
        expect(existsSync(path.join(dir, 'ca-key.pem'))).to.equal(false)
      }
      expect(await removeLegacyCaKey(path.join(dir, 'none'))).to.equal(false)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
