// What `dlite env` prints: DOCKER_HOST for tools that ignore docker contexts, in the syntax of the user's shell,
// quoted so a socket path with spaces or quotes survives `eval`.
export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const
export type Shell = (typeof SHELLS)[number]

/** The shell named by $SHELL (fish, pwsh/powershell, zsh), else bash: a POSIX `export` suits sh and its kin. */
export function detectShell(shellPath: string | undefined): Shell {
  const name = (shellPath ?? '').split('/').pop() ?? ''
  if (name === 'fish') return 'fish'
  if (name === 'pwsh' || name.startsWith('powershell')) return 'powershell'
  return name === 'zsh' ? 'zsh' : 'bash'
}

function quote(shell: Shell, value: string): string {
  if (shell === 'fish') return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`
  if (shell === 'powershell') return `'${value.replace(/'/g, "''")}'`
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/** Lines that set (or with `unset`, remove) each variable, and a last comment saying how to apply them. */
export function shellEnv(shell: Shell, vars: Record<string, string>, unset = false): string {
  const lines = Object.entries(vars).map(([name, value]) => {
    if (shell === 'fish') return unset ? `set -e ${name};` : `set -gx ${name} ${quote(shell, value)};`
    if (shell === 'powershell') return unset ? `Remove-Item Env:${name} -ErrorAction SilentlyContinue` : `$Env:${name} = ${quote(shell, value)}`
    return unset ? `unset ${name}` : `export ${name}=${quote(shell, value)}`
  })
  const apply = shell === 'fish' ? 'dlite env | source' : shell === 'powershell' ? '& dlite env --shell powershell | Invoke-Expression' : 'eval "$(dlite env)"'
  return [...lines, `# Run this command to configure your shell: ${unset ? apply.replace('dlite env', 'dlite env --unset') : apply}`].join('\n')
}
