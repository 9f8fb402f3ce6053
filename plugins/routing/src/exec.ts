// Running host programs (ip, route, netstat, ifconfig) without a shell. Route logic takes a Runner so unit
// tests hand it a fake one and check the exact argv.
import {spawn} from 'node:child_process'

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export type Runner = (cmd: string, args: string[], opts?: {timeoutMs?: number}) => Promise<ExecResult>

/** Resolves with the exit code (127 when the program cannot be started, 124 on timeout); never rejects. */
export const run: Runner = (cmd, args, opts = {}) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, {stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs ?? 15_000)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({code: 127, stdout: '', stderr: error.message})
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code: timedOut ? 124 : (code ?? 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')})
    })
  })

/** Like the runner, but a non-zero exit becomes an Error with the program's own message. */
export async function runOrThrow(runner: Runner, cmd: string, args: string[]): Promise<string> {
  const result = await runner(cmd, args)
  if (result.code !== 0) {
    const detail = errorDetail(result)
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code})${detail ? `: ${detail}` : ''}`)
  }
  return result.stdout
}

/** The last two lines a failed program printed (its error output, else its output), joined into one. */
export function errorDetail(result: ExecResult): string {
  return (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ')
}
