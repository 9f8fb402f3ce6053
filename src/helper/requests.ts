// The root helper's whole vocabulary: one JSON line per connection, one of these verbs, nothing else. Anything
// else is refused before anything is done. The verbs' own rules (private space, no conflict, the registered
// domain) are in actions.ts.
import {RESOLVER_MODES, type ResolverSetting} from 'dlite-kit/resolver-file'

export type HelperRequest =
  | {verb: 'network-up'}
  | {verb: 'network-down'}
  | {verb: 'tap-open'}
  | {verb: 'vm-address'; ip: string}
  | {verb: 'route-add'; subnet: string}
  | {verb: 'route-remove'; subnet: string}
  | {verb: 'dns-socket'; protocol: 'udp' | 'tcp'}
  | {verb: 'resolver-write'; domain: string; mode: ResolverSetting}
  | {verb: 'resolver-remove'}

export type HelperAnswer = {ok: true; result?: unknown} | {ok: false; error: string}

export const HELPER_VERBS = ['network-up', 'network-down', 'tap-open', 'vm-address', 'route-add', 'route-remove', 'dns-socket', 'resolver-write', 'resolver-remove'] as const

/** A request line is never longer than this; a longer one is refused unread. */
export const MAX_REQUEST_BYTES = 1024

/** The request, or why it is refused. */
export function parseHelperRequest(line: string): HelperRequest | {refused: string} {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return {refused: 'not a JSON request'}
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {refused: 'not a JSON object'}
  const {verb, ...rest} = value as Record<string, unknown>
  if (typeof verb !== 'string' || !(HELPER_VERBS as readonly string[]).includes(verb)) {
    return {refused: `unknown verb ${JSON.stringify(verb)}: the helper does ${HELPER_VERBS.join(', ')} only`}
  }
  const keys = Object.keys(rest)
  if (verb === 'route-add' || verb === 'route-remove') {
    if (keys.length !== 1 || typeof rest.subnet !== 'string' || rest.subnet.length > 18) return {refused: `${verb} takes one field, subnet (a.b.c.d/n)`}
    return {verb, subnet: rest.subnet}
  }
  if (verb === 'vm-address') {
    if (keys.length !== 1 || typeof rest.ip !== 'string' || rest.ip.length > 15) return {refused: 'vm-address takes one field, ip (a.b.c.d)'}
    return {verb, ip: rest.ip}
  }
  if (verb === 'dns-socket') {
    if (keys.length !== 1 || (rest.protocol !== 'udp' && rest.protocol !== 'tcp')) return {refused: 'dns-socket takes one field, protocol (udp or tcp)'}
    return {verb, protocol: rest.protocol}
  }
  if (verb === 'resolver-write') {
    const modeOk = typeof rest.mode === 'string' && (RESOLVER_MODES as readonly string[]).includes(rest.mode)
    if (keys.length !== 2 || typeof rest.domain !== 'string' || rest.domain.length > 253 || !modeOk) {
      return {refused: `resolver-write takes two fields, domain and mode (${RESOLVER_MODES.join(', ')})`}
    }
    return {verb, domain: rest.domain, mode: rest.mode as ResolverSetting}
  }
  if (keys.length > 0) return {refused: `${verb} takes no fields (got ${keys.join(', ')})`}
  return {verb} as HelperRequest
}
