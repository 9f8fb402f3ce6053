// Running host programs, for the core and the plugins alike: one place for spawning (never through a shell),
// collecting output, deadlines and finding binaries, so domain modules take a `Runner` and unit tests hand them
// a fake one that records the exact argv.
import {spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface ExecOptions {
  timeoutMs?: number
  input?: string | Buffer
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export type Runner = (cmd: string, args: string[], opts?: ExecOptions) => Promise<ExecResult>

/** Runs a program without a shell; resolves with its exit code (127 if it cannot be started). */
export const run: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, {env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true
          child.kill('SIGKILL')
        }, opts.timeoutMs)
      : undefined
    child.on('error', (error) => {
      if (timer) clearTimeout(timer)
      resolve({code: 127, stdout: '', stderr: error.message})
    })
    child.on('close', (code) => {
      if (timer) clearTimeout(timer)
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\n${cmd}: timed out after ${opts.timeoutMs} ms` : '')
      resolve({code: timedOut ? 124 : (code ?? 1), stdout: Buffer.concat(out).toString('utf8'), stderr})
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })

/** Like `run`, but a non-zero exit becomes an Error carrying the program's own message. */
export async function runOrThrow(cmd: string, args: string[], opts?: ExecOptions, runner: Runner = run): Promise<string> {
  const result = await runner(cmd, args, opts)
  if (result.code !== 0) {
    const detail = errorDetail(result)
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`)
  }
  return result.stdout
}

/** The last three lines a failed program printed (its error output, else its output), joined into one. */
export function errorDetail(result: ExecResult): string {
  return (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')
}

// Root's tools live in sbin, which a user's PATH often lacks.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin']

export type Which = (name: string) => string | undefined

/** Finds an executable on PATH (plus the sbin directories); undefined when absent. */
export const which: Which = (name) => {
  if (name.includes('/')) return isExecutable(name) ? name : undefined
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS]
  for (const dir of dirs) {
    const candidate = join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
