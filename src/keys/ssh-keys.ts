// SSH material of one home: dlite's own client key pair (how `dlite ssh` logs in as `docker`), the
// guest's host key generated on the host (so it can be pinned before first boot: no TOFU prompt), and
// a known_hosts file that pins it. Keys come from ssh-keygen; nothing secret is passed on a command line
// (the empty passphrase `-N ''` is not a secret). Private keys are 0600, the directory 0700.
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, readFile, rename, rm} from 'node:fs/promises'
import {join} from 'node:path'

import {writeFileAtomic} from 'dlite-kit/atomic-write'
import {run, type Runner} from 'dlite-kit/exec'
import {parseIpv4} from 'dlite-kit/ipv4'

export interface KeyPaths {
  dir: string
  clientKey: string
  clientPublicKey: string
  hostKey: string
  hostPublicKey: string
  knownHosts: string
}

export interface KeyPair {
  privateKey: string
  publicKey: string
  /** The public key line, e.g. `ssh-ed25519 AAAA... comment`. */
  publicKeyText: string
  /** False when an existing valid pair was kept. */
  created: boolean
}

export function keyPaths(keysDir: string): KeyPaths {
  return {
    dir: keysDir,
    clientKey: join(keysDir, 'id_ed25519'),
    clientPublicKey: join(keysDir, 'id_ed25519.pub'),
    hostKey: join(keysDir, 'ssh_host_ed25519_key'),
    hostPublicKey: join(keysDir, 'ssh_host_ed25519_key.pub'),
    knownHosts: join(keysDir, 'known_hosts'),
  }
}

const PUBLIC_KEY_LINE = /^ssh-ed25519 [A-Za-z0-9+/]+={0,3}( .*)?$/

async function readPair(privateKey: string): Promise<string | undefined> {
  try {
    const [priv, pub] = await Promise.all([readFile(privateKey, 'utf8'), readFile(`${privateKey}.pub`, 'utf8')])
    const line = pub.trim()
    return priv.includes('PRIVATE KEY') && PUBLIC_KEY_LINE.test(line) ? line : undefined
  } catch {
    return undefined
  }
}

/**
 * Generates an ed25519 pair at `privateKey` (+ `.pub`) unless a valid one is there (or `overwrite`).
 * ssh-keygen writes into a private temp directory first, so a failure never leaves half a pair.
 */
export async function ensureKeyPair(privateKey: string, opts: {comment: string; overwrite?: boolean; runner?: Runner}): Promise<KeyPair> {
  const dir = join(privateKey, '..')
  await mkdir(dir, {recursive: true, mode: 0o700})
  await chmod(dir, 0o700)
  if (!opts.overwrite) {
    const existing = await readPair(privateKey)
    if (existing) {
      await chmod(privateKey, 0o600)
      return {privateKey, publicKey: `${privateKey}.pub`, publicKeyText: existing, created: false}
    }
  }
  if (/[\r\n]/.test(opts.comment)) throw new Error('ssh key comment must be one line')
  const work = join(dir, `.keygen-${randomBytes(4).toString('hex')}`)
  await mkdir(work, {mode: 0o700})
  try {
    const temp = join(work, 'key')
    const result = await (opts.runner ?? run)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', opts.comment, '-f', temp], {timeoutMs: 30_000})
    if (result.code !== 0) {
      const hint = result.code === 127 ? ': install OpenSSH (apt-get install openssh-client)' : ''
      throw new Error(`ssh-keygen failed (exit ${result.code})${hint}: ${(result.stderr || result.stdout).trim()}`)
    }
    await chmod(temp, 0o600)
    await chmod(`${temp}.pub`, 0o644)
    await rename(`${temp}.pub`, `${privateKey}.pub`)
    await rename(temp, privateKey)
  } finally {
    await rm(work, {recursive: true, force: true})
  }
  const text = await readPair(privateKey)
  if (!text) throw new Error(`ssh-keygen did not produce an ed25519 key pair at ${privateKey}`)
  return {privateKey, publicKey: `${privateKey}.pub`, publicKeyText: text, created: true}
}

/** dlite's client key, used by `dlite ssh` and authorized for the guest's `docker` user. */
export function ensureClientKey(keysDir: string, opts: {comment?: string; overwrite?: boolean; runner?: Runner} = {}): Promise<KeyPair> {
  return ensureKeyPair(keyPaths(keysDir).clientKey, {comment: opts.comment ?? 'dlite', overwrite: opts.overwrite, runner: opts.runner})
}

/** The guest sshd's host key, handed to the guest with its settings and pinned in known_hosts. */
export function ensureHostKey(keysDir: string, opts: {comment?: string; overwrite?: boolean; runner?: Runner} = {}): Promise<KeyPair> {
  return ensureKeyPair(keyPaths(keysDir).hostKey, {comment: opts.comment ?? 'dlite-guest', overwrite: opts.overwrite, runner: opts.runner})
}

/** The name the guest's host key is pinned under, whatever address and port reach it (ssh's HostKeyAlias). */
export const GUEST_HOST_KEY_ALIAS = 'dlite-vm'

export interface KnownHostsEntry {
  ip: string
  hostname: string
  /** Defaults to 22. */
  port?: number
  /** The host key line (`ssh-ed25519 AAAA...`); any comment is dropped. */
  hostPublicKey: string
}

/**
 * known_hosts text pinning the guest. For port 22 OpenSSH looks hosts up by bare name, so the line lists
 * `ip`, `[ip]:22` and the hostname; for another port it lists the bracketed forms.
 */
export function knownHostsText(entry: KnownHostsEntry): string {
  const port = entry.port ?? 22
  if (parseIpv4(entry.ip) === undefined) throw new Error(`known_hosts: not an IPv4 address: ${entry.ip}`)
  if (!/^[A-Za-z0-9.-]+$/.test(entry.hostname)) throw new Error(`known_hosts: not a hostname: ${entry.hostname}`)
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`known_hosts: bad port ${port}`)
  const [type, key] = entry.hostPublicKey.trim().split(/\s+/)
  if (!type || !key || !PUBLIC_KEY_LINE.test(`${type} ${key}`)) throw new Error('known_hosts: host key is not an ssh-ed25519 public key line')
  const names = port === 22 ? [entry.ip, `[${entry.ip}]:22`, entry.hostname] : [`[${entry.ip}]:${port}`, `[${entry.hostname}]:${port}`]
  // The alias pins the key wherever the guest's sshd is reached (user mode: a port chosen at each start).
  return `${[...names, GUEST_HOST_KEY_ALIAS].join(',')} ${type} ${key}\n`
}

/** Writes the pinned known_hosts atomically. */
export async function writeKnownHosts(path: string, entry: KnownHostsEntry): Promise<void> {
  await writeFileAtomic(path, knownHostsText(entry), 0o644)
}

/** authorized_keys for the guest's `docker` user: dlite's key plus the user's own, one per line. */
export function authorizedKeysText(publicKeys: (string | null | undefined)[]): string {
  const lines = publicKeys
    .filter((key): key is string => typeof key === 'string')
    .flatMap((key) => key.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  return [...new Set(lines)].map((line) => `${line}\n`).join('')
}

/**
 * ssh options for reaching the guest with dlite's key and only the pinned host key: no agent keys,
 * no password prompts, no writes to the user's own known_hosts.
 */
export function sshClientArgs(paths: KeyPaths, target: {ip: string; user?: string; port?: number}): string[] {
  const port = target.port ?? 22
  return [
    // a forwarded port is new at every start: look the key up by the alias (installs before it used port 22)
    ...(port === 22 ? [] : ['-o', `HostKeyAlias=${GUEST_HOST_KEY_ALIAS}`]),
    '-i', paths.clientKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${paths.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UpdateHostKeys=no',
    '-o', 'PasswordAuthentication=no',
    '-o', 'KbdInteractiveAuthentication=no',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-p', String(port),
    '-l', target.user ?? 'docker',
    target.ip,
  ]
}
