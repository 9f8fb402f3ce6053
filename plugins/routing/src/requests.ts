// What a command asks the plugin's daemon side (through the core's sendPluginRequest), and what comes back.
import type {ApplyResult, StatusReport} from './router.js'

export type RoutingRequest = {op: 'enable'} | {op: 'disable'} | {op: 'status'}

export type EnableAnswer = ApplyResult

export interface DisableAnswer {
  removed: string[]
  guestRuleRemoved: boolean
}

export type StatusAnswer = StatusReport

const OPS = new Set(['enable', 'disable', 'status'])

export function parseRequest(value: unknown): RoutingRequest {
  const op = (value as {op?: unknown} | null)?.op
  if (typeof op !== 'string' || !OPS.has(op)) throw new Error(`dlite-routing: unknown request ${JSON.stringify(value)}`)
  return {op} as RoutingRequest
}
