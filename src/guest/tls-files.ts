/**
 * Where a home keeps its TLS material, in docker-machine's layout, so that
 * `DOCKER_CERT_PATH=<dir> DOCKER_TLS_VERIFY=1` works with the stock docker CLI:
 *   ca.pem                       the private CA's certificate (its key is not kept: see TlsBundle)
 *   cert.pem key.pem             the client certificate the host uses
 *   server-cert.pem server-key.pem   dockerd's certificate (copied into the settings bundle)
 */
import {mkdir, readFile, rm} from 'node:fs/promises'
import path from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import type {TlsBundle} from './tls.js'

export interface TlsPaths {
  dir: string
  ca: string
  clientCert: string
  clientKey: string
  serverCert: string
  serverKey: string
}

export function tlsPaths(dir: string): TlsPaths {
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
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
  await writeFileAtomic(p.clientCert, bundle.client.cert, 0o644)
  await writeFileAtomic(p.clientKey, bundle.client.key, 0o600)
  await writeFileAtomic(p.serverCert, bundle.server.cert, 0o644)
  await writeFileAtomic(p.serverKey, bundle.server.key, 0o600)
  return p
}

/** Read a bundle written by writeTlsFiles. */
export async function readTlsFiles(dir: string): Promise<TlsBundle> {
  const p = tlsPaths(dir)
  const [caCert, cert, key, serverCert, serverKey] = await Promise.all(
    [p.ca, p.clientCert, p.clientKey, p.serverCert, p.serverKey].map((f) => readFile(f, 'utf8')),
  )
  return {ca: {cert: caCert}, client: {cert, key}, server: {cert: serverCert, key: serverKey}}
}

/** Where earlier builds of dlite kept the CA's key; a home they installed still has it. */
const LEGACY_CA_KEY_NAME = 'ca-key.pem'

/**
 * Removes a CA key an older dlite left in the home's tls directory. Only as the home's own user: a root
 * process does not unlink by path inside a directory the user controls.
 */
export async function removeLegacyCaKey(dir: string): Promise<boolean> {
  if (process.getuid?.() === 0) return false
  try {
    await rm(path.join(dir, LEGACY_CA_KEY_NAME))
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw error
  }
}
