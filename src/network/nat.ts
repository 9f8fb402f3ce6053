// Outbound NAT and forwarding for the VM subnet. nftables gets one table per home, so removal is a single
// `delete table` that cannot touch anyone else's rules; without nft, iptables rules carry a comment naming
// the home and are removed one by one.
import {writeFile} from 'node:fs/promises'

import {run, runOrThrow, which, type Runner, type Which} from '../util/exec.js'
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
    '  }',
    '}',
    '',
  ].join('\n')
}

/** iptables rules as [table, chain, rule...] triples; the comment ties each rule to the home. */
export function iptablesRules(spec: NatSpec): Array<{table: string; chain: string; rule: string[]}> {
  const comment = ['-m', 'comment', '--comment', spec.table]
  return [
    {table: 'nat', chain: 'POSTROUTING', rule: ['-s', spec.subnet.cidr, '!', '-d', spec.subnet.cidr, '-j', 'MASQUERADE', ...comment]},
    {table: 'filter', chain: 'FORWARD', rule: ['-i', spec.bridge, '-j', 'ACCEPT', ...comment]},
    {table: 'filter', chain: 'FORWARD', rule: ['-o', spec.bridge, '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT', ...comment]},
  ]
}

export async function enableIpForwarding(path = '/proc/sys/net/ipv4/ip_forward'): Promise<void> {
  await writeFile(path, '1\n')
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
