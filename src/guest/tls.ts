/**
 * TLS material for the guest's dockerd (docker-machine style): a private CA, a
 * server certificate for the VM (SANs: its IP and host name) and a client
 * certificate the host uses. ECDSA P-256 / SHA-256 via WebCrypto and @peculiar/x509.
 * Keys are PKCS#8 PEM ("BEGIN PRIVATE KEY"), which dockerd and the docker CLI accept.
 */
import {webcrypto} from 'node:crypto'
import {isIP} from 'node:net'

import './reflect-metadata.js'

import * as x509 from '@peculiar/x509'

const crypto = webcrypto as unknown as Crypto
x509.cryptoProvider.set(crypto)

const ALG: EcKeyGenParams = {name: 'ECDSA', namedCurve: 'P-256'}
const SIGN: EcdsaParams = {name: 'ECDSA', hash: 'SHA-256'}
const DAY = 24 * 3600 * 1000

export interface PemPair {
  cert: string
  key: string
}

export interface CertAuthority extends PemPair {
  /** parsed for signing; not serialised */
  readonly keys: CryptoKeyPair
  readonly certificate: x509.X509Certificate
}

/**
 * What a home keeps: the CA's certificate (to verify with), never its key. Nothing after install issues a
 * certificate, so the key is dropped as soon as the server and client certificates are signed: whoever can read
 * the home (a backup, a copied tls/ directory, DOCKER_CERT_PATH handed to a tool) cannot mint one dlite trusts.
 * New certificates mean a new CA, and the guest gets both at its next start.
 */
export interface TlsBundle {
  ca: {cert: string}
  server: PemPair
  client: PemPair
}

export interface TlsOptions {
  /** host names and IP addresses the server certificate is valid for */
  serverNames: string[]
  /** subject CN of the CA; default "dlite CA" */
  caName?: string
  /** subject CN of the client certificate; default "dlite client" */
  clientName?: string
  /** validity in days; default 3650 (CA) and 825 (leaves) */
  caDays?: number
  leafDays?: number
  now?: Date
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n'
}

function certPem(cert: x509.X509Certificate): string {
  return cert.toString('pem') + '\n'
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[0] &= 0x7f // positive
  if (b[0] === 0) b[0] = 1
  return Buffer.from(b).toString('hex')
}

function cn(name: string): string {
  if (/[,=+<>#;\\"]/.test(name)) throw new Error(`certificate name ${name} contains characters not allowed in a CN`)
  return `CN=${name}`
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>
}

/** A new self-signed CA. */
export async function createCertAuthority(opts: {name?: string; days?: number; now?: Date} = {}): Promise<CertAuthority> {
  const keys = await generateKeys()
  const now = opts.now ?? new Date()
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: cn(opts.name ?? 'dlite CA'),
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + (opts.days ?? 3650) * DAY),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return {cert: certPem(certificate), key: await keyPem(keys.privateKey), keys, certificate}
}

async function issue(ca: CertAuthority, subject: string, usage: 'server' | 'client', names: string[], days: number, now: Date): Promise<PemPair> {
  const keys = await generateKeys()
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension([usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
  ]
  if (names.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(
      names.map((n) => (isIP(n) ? {type: 'ip' as const, value: n} : {type: 'dns' as const, value: n})),
      false,
    ))
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: cn(subject),
    issuer: ca.certificate.subject,
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + days * DAY),
    signingAlgorithm: SIGN,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions,
  })
  return {cert: certPem(cert), key: await keyPem(keys.privateKey)}
}

/** A server certificate for dockerd, valid for the given IPs and host names. */
export async function issueServerCert(ca: CertAuthority, names: string[], opts: {days?: number; now?: Date} = {}): Promise<PemPair> {
  if (names.length === 0) throw new Error('a server certificate needs at least one IP or host name')
  for (const n of names) {
    if (!isIP(n) && !/^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(n)) throw new Error(`invalid server name ${n}`)
  }
  const first = names.find((n) => !isIP(n)) ?? names[0]
  return issue(ca, first, 'server', [...new Set([...names, 'localhost', '127.0.0.1'])], opts.days ?? 825, opts.now ?? new Date())
}

/** A client certificate for the host side (docker CLI / the daemon's socket proxy). */
export async function issueClientCert(ca: CertAuthority, opts: {name?: string; days?: number; now?: Date} = {}): Promise<PemPair> {
  return issue(ca, opts.name ?? 'dlite client', 'client', [], opts.days ?? 825, opts.now ?? new Date())
}

/** CA + server + client in one go. */
export async function createTlsBundle(opts: TlsOptions): Promise<TlsBundle> {
  const now = opts.now ?? new Date()
  const ca = await createCertAuthority({name: opts.caName, days: opts.caDays, now})
  const server = await issueServerCert(ca, opts.serverNames, {days: opts.leafDays, now})
  const client = await issueClientCert(ca, {name: opts.clientName, days: opts.leafDays, now})
  return {ca: {cert: ca.cert}, server, client}
}

export {readTlsFiles, removeLegacyCaKey, tlsPaths, writeTlsFiles, type TlsPaths} from './tls-files.js'
