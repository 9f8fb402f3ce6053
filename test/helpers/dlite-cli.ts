// Drives the real CLI (./bin/run.js) the way a user does, optionally inside a test network namespace.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {runCommand, type Netns, type RunResult} from './netns.js'

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(REPO, 'bin', 'run.js')
export const BUILT_OS_MANIFEST = join(REPO, 'os', 'dist', 'manifest.json')

export interface CliRunner {
  (args: string[], opts?: {timeoutMs?: number; input?: string}): Promise<RunResult>
  /** Parses stdout as the one JSON document --json promises. */
  json<T = Record<string, unknown>>(args: string[], opts?: {timeoutMs?: number}): Promise<{code: number; body: T; stderr: string}>
}

export function dliteCli(env: NodeJS.ProcessEnv, ns?: Netns): CliRunner {
  const fullEnv = {...process.env, ...env}
  const runner = ((args: string[], opts: {timeoutMs?: number; input?: string} = {}) =>
    ns
      ? ns.run(process.execPath, [CLI, ...args], {env: fullEnv, timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input})
      : runCommand(process.execPath, [CLI, ...args], {env: fullEnv, timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input})) as CliRunner
  runner.json = async <T>(args: string[], opts: {timeoutMs?: number} = {}) => {
    const result = await runner([...args, '--json'], opts)
    let body: T
    try {
      body = JSON.parse(result.stdout) as T
    } catch {
      throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
    }
    return {code: result.code, body, stderr: result.stderr}
  }
  return runner
}

/** The tails of a home's daemon log and guest consoles (this boot and the one before), for a failed test. */
export function homeLogsTail(home: string, lines = 40): string {
  return ['daemon.log', 'console.log', 'console.previous.log'].map((name) => {
    let text: string
    try {
      text = readFileSync(join(home, 'logs', name), 'utf8').split('\n').slice(-lines).join('\n')
    } catch {
      text = '(none)'
    }
    return `--- ${name} (last ${lines} lines) ---\n${text}`
  }).join('\n')
}

const GUEST_TROUBLE = /Kernel panic|Oops|BUG:|general protection|double fault|segfault|DLITE-(WARN|FAIL)/

/**
 * The few lines that explain most failures: the daemon log's last lines, and what the guest's console shows of
 * kernel trouble and dlite warnings. Short enough to ride along in the failure summary, which is the part of a
 * long run's output a CI record keeps.
 */
export function failureDigest(home: string): string {
  const read = (name: string) => {
    try {
      return readFileSync(join(home, 'logs', name), 'utf8').split('\n')
    } catch {
      return []
    }
  }
  const guest = [...read('console.previous.log'), ...read('console.log')].filter((line) => GUEST_TROUBLE.test(line)).slice(-8)
  return [`--- daemon.log (last 12 lines) ---`, ...read('daemon.log').slice(-12), `--- console: kernel trouble and dlite warnings (last 8) ---`, ...guest]
    .map((line) => line.slice(0, 300)).join('\n')
}

/**
 * A mocha afterEach hook for a test that just failed: prints homeLogsTail(home()), and adds failureDigest to the
 * error so the summary at the end of the run carries it too.
 */
export function printLogsOnFailure(home: () => string | undefined) {
  return function (this: {currentTest?: {state?: string; err?: Error}}) {
    const dir = home()
    if (this.currentTest?.state !== 'failed' || !dir) return
    process.stderr.write(`\n${homeLogsTail(dir)}\n`)
    const err = this.currentTest.err
    if (err) err.message = `${err.message}\n${failureDigest(dir)}`
  }
}
