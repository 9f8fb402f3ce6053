// The root helper's whole vocabulary: one JSON line per connection, one of these verbs, nothing else. Anything
// else is refused before anything is done. The routes' own rules (private space, no conflict) are in actions.ts.
export type HelperRequest =
  | {verb: 'network-up'}
  | {verb: 'network-down'}
  | {verb: 'tap-open'}
  | {verb: 'route-add'; subnet: string}
  | {verb: 'route-remove'; subnet: string}

export type HelperAnswer = {ok: true; result?: unknown} | {ok: false; error: string}

export const HELPER_VERBS = ['network-up', 'network-down', 'tap-open', 'route-add', 'route-remove'] as const

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
  if (keys.length > 0) return {refused: `${verb} takes no fields (got ${keys.join(', ')})`}
  return {verb} as HelperRequest
}
