// Assembles what the guest learns from the host at boot (the fw_cfg settings bundle, os/README.md) from the
// VM's config and the keys and certificates made at install. Secrets go into this 0600 file only; QEMU's
// argv carries just its path.
import {readFile} from 'node:fs/promises'

import type {DliteConfig} from '../config/index.js'
import type {GuestNetwork, GuestSettings, GuestShare} from '../guest/settings.js'
import {readTlsFiles} from '../guest/tls.js'
import {keyPaths} from '../keys/index.js'

/** The host's own nameservers that a guest can reach (loopback resolvers such as 127.0.0.53 cannot). */
export function reachableNameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((line) => /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line)?.[1])
    .filter((ip): ip is string => ip !== undefined && !ip.startsWith('127.'))
}

/**
 * The nameservers the guest should use. Where the host's resolv.conf lists only a local stub (systemd-resolved's
 * 127.0.0.53), resolved's own list of upstream servers is used instead, so the guest is not left without DNS.
 */
export async function guestNameservers(
  read: (path: string) => Promise<string> = (path) => readFile(path, 'utf8'),
): Promise<string[]> {
  for (const path of ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf']) {
    const servers = reachableNameservers(await read(path).catch(() => ''))
    if (servers.length > 0) return servers
  }
  return []
}

export async function guestSettings(options: {
  config: DliteConfig
  /** From the network driver: address, gateway, upstream DNS, the host's address as the guest sees it. */
  network: GuestNetwork
  tlsDir: string
  keysDir: string
  shares: GuestShare[]
}): Promise<GuestSettings> {
  const {config} = options
  const tls = await readTlsFiles(options.tlsDir)
  const keys = keyPaths(options.keysDir)
  const authorizedKeys = [(await readFile(keys.clientPublicKey, 'utf8')).trim()]
  if (config.sshKey) authorizedKeys.push((await readFile(config.sshKey, 'utf8')).trim())
  return {
    hostname: config.hostname,
    network: options.network,
    shares: options.shares,
    dockerArgs: config.extraArgs,
    tls: {ca: tls.ca.cert, serverCert: tls.server.cert, serverKey: tls.server.key},
    authorizedKeys,
    sshHostKeys: {ed25519: await readFile(keys.hostKey, 'utf8')},
  }
}
