/**
 * @peculiar/x509 uses tsyringe, which refuses to load unless a Reflect metadata
 * API exists (normally the `reflect-metadata` package). It only needs the small
 * subset below, so we install that subset when nothing else has; imported for
 * its side effect before @peculiar/x509.
 */
type Key = unknown
type Target = object

const store = new WeakMap<Target, Map<PropertyKey | undefined, Map<Key, unknown>>>()

function own(target: Target, prop: PropertyKey | undefined, create: boolean): Map<Key, unknown> | undefined {
  let byProp = store.get(target)
  if (!byProp) {
    if (!create) return undefined
    byProp = new Map()
    store.set(target, byProp)
  }
  let map = byProp.get(prop)
  if (!map && create) {
    map = new Map()
    byProp.set(prop, map)
  }
  return map
}

const api = {
  defineMetadata(key: Key, value: unknown, target: Target, prop?: PropertyKey): void {
    own(target, prop, true)!.set(key, value)
  },
  getOwnMetadata(key: Key, target: Target, prop?: PropertyKey): unknown {
    return own(target, prop, false)?.get(key)
  },
  hasOwnMetadata(key: Key, target: Target, prop?: PropertyKey): boolean {
    return own(target, prop, false)?.has(key) ?? false
  },
  getMetadata(key: Key, target: Target, prop?: PropertyKey): unknown {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const m = own(t, prop, false)
      if (m?.has(key)) return m.get(key)
    }
    return undefined
  },
  hasMetadata(key: Key, target: Target, prop?: PropertyKey): boolean {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      if (own(t, prop, false)?.has(key)) return true
    }
    return false
  },
  metadata(key: Key, value: unknown) {
    return (target: Target, prop?: PropertyKey) => api.defineMetadata(key, value, target, prop)
  },
}

const R = Reflect as unknown as Record<string, unknown>
if (typeof R.getMetadata !== 'function') {
  for (const [name, fn] of Object.entries(api)) R[name] = fn
}

export {}
