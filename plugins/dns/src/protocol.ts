// What the plugin's commands ask its code in the daemon (through dlite's sendPluginRequest), and the answers.
import type {RemoveOutcome, ResolverOutcome} from 'dlite-kit/resolver-file'
import type {ServedName} from './name-lookup.js'
import type {StreamState} from './registry.js'

export type DnsRequest =
  /** Read the settings again and act on them: serve and configure the host resolver, or stop and undo it. */
  | {op: 'apply'}
  | {op: 'status'}
  | {op: 'names'}

export interface QueryCounts {
  answer: number
  nodata: number
  nxdomain: number
  forwarded: number
  refused: number
  error: number
}

export interface ServiceStatus {
  enabled: boolean
  serving: boolean
  domain: string
  /** `host:port`, each for UDP and TCP. */
  listening: string[]
  containers: number
  names: number
  /** The docker event stream that keeps names current. */
  events: StreamState | 'off'
  /** Whether dockerd was started with `--dns=<responder>` at this boot, and whether the settings want it. */
  containerDns: {wanted: boolean; active: boolean}
  /** Where other names are forwarded now (empty: they are REFUSED). */
  upstreams: string[]
  resolver?: ResolverOutcome
  /** Set by `apply` when it removed resolver files (disable). */
  removed?: RemoveOutcome
  queries: QueryCounts
  startedAt?: string
  lastError?: string
}

export interface NamesReply {
  domain: string
  names: ServedName[]
}
