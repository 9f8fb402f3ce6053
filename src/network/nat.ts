// Outbound NAT and forwarding for the VM subnet. nftables gets one table per home, so removal is a single
// `delete table` that cannot touch anyone else's rules; without nft, iptables rules carry a comment naming
// the home and are removed one by one.
import {existsSync, readlinkSync} from 'node:fs'
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises'
import {dirname} from 'node:path'

import {run, runOrThrow, which, type Runner, type Which} from 'dlite-kit/exec'
import type {Subnet} from './subnet.js'

export interface NatSpec {
  table: string
  bridge: string
  subnet: Subnet
}

export type NatBackend = 'nft' | 'iptables'

export function chooseNatBackend(find: Which = which): NatBackend {
  if (find('nft')) return 'nft'
  if (find('iptables')) return 'iptables'
  throw new Error('neither nft nor iptables is installed: sudo apt-get install nftables')
}

export function nftRuleset(spec: NatSpec): string {
  const {table, bridge, subnet} = spec
  return [
    `table ip ${table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${subnet.cidr} ip daddr != ${subnet.cidr} masquerade`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname "${bridge}" accept`,
    `    oifname "${bridge}" ct state established,related accept`,
    // nothing from outside opens a connection into the VM subnet through this host (the host's own traffic to
    // the VM is not forwarded, and VM-to-VM across bridges is outside too)
    `    oifname "${bridge}" drop`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/**
 * iptables rules as [table, chain, rule...] triples; the comment ties each rule to the home. Each is inserted at
 * the top of its chain, so the FORWARD rules are listed last-first: accept from the bridge, accept replies to
 * it, drop every other packet to it (no connection from outside into the VM subnet).
 */
export function iptablesRules(spec: NatSpec): Array<{table: string; chain: string; rule: string[]}> {
  const comment = ['-m', 'comment', '--comment', spec.table]
  return [
    {table: 'nat', chain: 'POSTROUTING', rule: ['-s', spec.subnet.cidr, '!', '-d', spec.subnet.cidr, '-j', 'MASQUERADE', ...comment]},
    {table: 'filter', chain: 'FORWARD', rule: ['-o', spec.bridge, '-j', 'DROP', ...comment]},
    {table: 'filter', chain: 'FORWARD', rule: ['-o', spec.bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT', ...comment]},
    {table: 'filter', chain: 'FORWARD', rule: ['-i', spec.bridge, '-j', 'ACCEPT', ...comment]},
  ]
}

/**
 * IPv4 forwarding is one switch for the whole network namespace. dlite turns it on for its bridges and
 * puts back what it found when its last bridge goes: what it found is kept in root's /run/dlite, one record
 * per network namespace, written only by the start that found forwarding off.
 */
export interface ForwardingPaths {
  /** /proc/sys/net/ipv4/ip_forward */
  sysctl: string
  /** Where the value found before dlite turned it on is kept. */
  record: string
}

export function forwardingPaths(): ForwardingPaths {
  let namespace = 'host'
  try {
    namespace = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? namespace
  } catch {
    // no /proc/self/ns: one namespace
  }
  return {sysctl: '/proc/sys/net/ipv4/ip_forward', record: `/run/dlite/ip_forward.before.${namespace}`}
}

export async function enableIpForwarding(paths: ForwardingPaths = forwardingPaths()): Promise<void> {
  const before = (await readFile(paths.sysctl, 'utf8')).trim()
  if (before !== '1' && !existsSync(paths.record)) {
    await mkdir(dirname(paths.record), {recursive: true, mode: 0o755})
    await writeFile(paths.record, `${before}\n`, {flag: 'wx', mode: 0o644})
  }
  await writeFile(paths.sysctl, '1\n')
}

/** Puts forwarding back as dlite found it, unless another of dlite's bridges still needs it. */
export async function restoreIpForwarding(otherBridgeUp: boolean, paths: ForwardingPaths = forwardingPaths()): Promise<boolean> {
  if (otherBridgeUp) return false
  let before: string
  try {
    before = (await readFile(paths.record, 'utf8')).trim()
  } catch {
    return false // it was on before dlite: it stays on
  }
  if (!/^[01]$/.test(before)) before = '0'
  await writeFile(paths.sysctl, `${before}\n`)
  await rm(paths.record, {force: true})
  return true
}

export async function applyNat(spec: NatSpec, backend: NatBackend, runner: Runner = run): Promise<void> {
  await removeNat(spec, backend, runner)
  if (backend === 'nft') {
    await runOrThrow('nft', ['-f', '-'], {input: nftRuleset(spec)}, runner)
    return
  }
  for (const {table, chain, rule} of iptablesRules(spec)) {
    await runOrThrow('iptables', ['-t', table, '-I', chain, ...rule], {}, runner)
  }
}

/** Idempotent: removing rules that are not there is not an error. */
export async function removeNat(spec: NatSpec, backend: NatBackend, runner: Runner = run): Promise<void> {
  if (backend === 'nft') {
    if ((await runner('nft', ['list', 'table', 'ip', spec.table])).code === 0) {
      await runOrThrow('nft', ['delete', 'table', 'ip', spec.table], {}, runner)
    }
    return
  }
  for (const {table, chain, rule} of iptablesRules(spec)) {
    // -D removes one copy; loop in case an earlier crash left duplicates.
    while ((await runner('iptables', ['-t', table, '-D', chain, ...rule])).code === 0) {
      // removed one
    }
  }
}

/** Whether any rule of this home is present (used by tests and status). */
export async function natPresent(spec: NatSpec, backend: NatBackend, runner: Runner = run): Promise<boolean> {
  if (backend === 'nft') return (await runner('nft', ['list', 'table', 'ip', spec.table])).code === 0
  for (const {table, chain, rule} of iptablesRules(spec)) {
    if ((await runner('iptables', ['-t', table, '-C', chain, ...rule])).code === 0) return true
  }
  return false
}
