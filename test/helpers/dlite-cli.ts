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

/** A mocha afterEach hook that prints homeLogsTail(home()) when the test just run failed. */
export function printLogsOnFailure(home: () => string | undefined) {
  return function (this: {currentTest?: {state?: string}}) {
    const dir = home()
    if (this.currentTest?.state === 'failed' && dir) process.stderr.write(`\n${homeLogsTail(dir)}\n`)
  }
}
