// Where a dotted name of dlite's may end: names no one on the internet owns (RFC 2606/6761/6762, ICANN's
// .internal, dnsdock's .docker). The VM's hostname goes into /etc/hosts and the DNS plugin serves its domain:
// `github.com` there would take that name from every program on the host.

export const RESERVED_SUFFIXES = ['docker', 'test', 'internal', 'local'] as const

/** The override for a name under a domain the user owns, named in every refusal. */
export const PUBLIC_NAMES_ENV = 'DLITE_ALLOW_PUBLIC_NAMES'
export const PUBLIC_NAMES_OVERRIDE = `${PUBLIC_NAMES_ENV}=1`

export function publicNamesAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[PUBLIC_NAMES_ENV] === '1'
}

/** The name's last label is one of RESERVED_SUFFIXES (lower-case, no trailing dot expected). */
export function endsInReservedSuffix(name: string): boolean {
  return (RESERVED_SUFFIXES as readonly string[]).includes(name.split('.').at(-1) ?? '')
}

/** The fix a refusal names: what to use instead, and the override. */
export function reservedNameFix(example: string): string {
  return `use a name under ${RESERVED_SUFFIXES.map((s) => `.${s}`).join(', ')} (e.g. ${example}); for a domain you own, run with ${PUBLIC_NAMES_OVERRIDE}`
}
