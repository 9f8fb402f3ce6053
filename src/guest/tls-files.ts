/**
 * Where a home keeps its TLS material, in docker-machine's layout, so that
 * `DOCKER_CERT_PATH=<dir> DOCKER_TLS_VERIFY=1` works with the stock docker CLI:
 *   ca.pem ca-key.pem            the private CA (ca-key.pem never leaves the host)
 *   cert.pem key.pem             the client certificate the host uses
 *   server-cert.pem server-key.pem   dockerd's certificate (copied into the settings bundle)
 */
import {mkdir, readFile} from 'node:fs/promises'
import path from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import type {TlsBundle} from './tls.js'

export interface TlsPaths {
  dir: string
  ca: string
  caKey: string
  clientCert: string
  clientKey: string
  serverCert: string
  serverKey: string
}

export function tlsPaths(dir: string): TlsPaths {
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    clientCert: path.join(dir, 'cert.pem'),
    clientKey: path.join(dir, 'key.pem'),
    serverCert: path.join(dir, 'server-cert.pem'),
    serverKey: path.join(dir, 'server-key.pem'),
  }
}

/** Write a bundle into `dir` (created 0700); keys 0600, certificates 0644. */
export async function writeTlsFiles(dir: string, bundle: TlsBundle): Promise<TlsPaths> {
  const p = tlsPaths(dir)
  await mkdir(dir, {recursive: true, mode: 0o700})
  await writeFileAtomic(p.ca, bundle.ca.cert, 0o644)
  await writeFileAtomic(p.caKey, bundle.ca.key, 0o600)
  await writeFileAtomic(p.clientCert, bundle.client.cert, 0o644)
  await writeFileAtomic(p.clientKey, bundle.client.key, 0o600)
  await writeFileAtomic(p.serverCert, bundle.server.cert, 0o644)
  await writeFileAtomic(p.serverKey, bundle.server.key, 0o600)
  return p
}

/** Read a bundle written by writeTlsFiles. */
export async function readTlsFiles(dir: string): Promise<TlsBundle> {
  const p = tlsPaths(dir)
  const [caCert, caKey, cert, key, serverCert, serverKey] = await Promise.all(
    [p.ca, p.caKey, p.clientCert, p.clientKey, p.serverCert, p.serverKey].map((f) => readFile(f, 'utf8')),
  )
  return {ca: {cert: caCert, key: caKey}, client: {cert, key}, server: {cert: serverCert, key: serverKey}}
}
