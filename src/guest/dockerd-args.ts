// The one rule for extra dockerd arguments, wherever they come from (install, config set, a plugin) and checked
// again at every start: each is one argument as dockerd gets it (it may hold spaces; the guest receives the
// list, not a string to split), none turns off TLS client checks, and no -H serves the API over plain TCP.

// dockerd shorthands that take a value: inside a cluster like `-Dp...` the rest belongs to them.
const VALUE_SHORTHANDS = new Set(['G', 'b', 'g', 'l', 'p', 's'])
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False'])

/** The -H/--host values in dockerd args; `missing` when a host flag has no value. */
function hostValues(args: string[]): {values: string[]; missing: boolean} {
  const values: string[] = []
  let missing = false
  const take = (i: number) => {
    if (i < args.length) values.push(args[i])
    else missing = true
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') break
    if (arg === '--host') take(++i)
    else if (arg.startsWith('--host=')) values.push(arg.slice('--host='.length))
    else if (/^-[^-]/.test(arg)) {
      // pflag shorthand cluster: bool flags may be combined, the first value-taking one eats the rest.
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]
        if (ch === 'H') {
          const rest = arg.slice(j + 1).replace(/^=/, '')
          if (rest === '') take(++i)
          else values.push(rest)
          break
        }
        if (VALUE_SHORTHANDS.has(ch)) break
      }
    }
  }
  return {values, missing}
}

/** A problem with a dockerd argument list, or undefined when dlite may pass it on. */
export function dockerdArgsProblem(args: readonly string[]): {message: string; fix: string} | undefined {
  const control = args.find((arg) => arg === '' || /[\0-\x1f\x7f]/.test(arg))
  if (control !== undefined) return {message: `${JSON.stringify(control)} is empty or holds a control character`, fix: 'give each dockerd argument as printable text'}
  const tlsOff = args.find((arg) => /^--tlsverify=/.test(arg) && FALSE_WORDS.has(arg.slice('--tlsverify='.length)))
  if (tlsOff) return {message: `"${tlsOff}" would turn off client-certificate checks on the docker API`, fix: 'remove it: the docker API is only served with TLS client authentication'}
  const {values, missing} = hostValues([...args])
  if (missing) return {message: 'a -H/--host flag has no value', fix: 'give -H a unix:// socket or remove it'}
  const tlsVerify = args.some((arg) => arg === '--tlsverify' || (/^--tlsverify=/.test(arg) && !FALSE_WORDS.has(arg.slice('--tlsverify='.length))))
  for (const value of values) {
    // dockerd reads a host without a scheme (":2375", "0.0.0.0") as TCP too.
    if (/^(unix|fd|npipe):\/\//i.test(value)) continue
    if (!tlsVerify) {
      return {
        message: `-H ${value} would serve the docker API over plain TCP without TLS`,
        fix: 'drop the TCP host: dlite already serves the docker API over TLS with client certificates (and the host socket); add --tlsverify only if you really need another TLS listener',
      }
    }
  }
  return undefined
}
