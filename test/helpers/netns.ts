// A private network namespace per test run (DESIGN.md §5, the sandbox rule). Everything that boots a VM or
// touches bridges, routes, hosts or resolver files runs inside one of these, and it is always removed:
// by remove(), and as a last resort on process exit, SIGINT and SIGTERM (last-resort.ts).
import {execFileSync, spawn, type ChildProcess, type SpawnOptions} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {atLastResort} from './last-resort.js'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  input?: string
  cwd?: string
}

export interface Netns {
  readonly name: string
  /** The namespace's own /etc/hosts: `ip netns exec` bind-mounts it over /etc/hosts. */
  readonly hostsFile: string
  readonly resolvConf: string
  run(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess
  remove(): Promise<void>
}

const live = new Set<string>()

function log(message: string): void {
  process.stderr.write(`[netns] ${message}\n`)
}

function removeSync(name: string): void {
  if (!live.has(name)) return
  live.delete(name)
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], {encoding: 'utf8'}).split(/\s+/).filter(Boolean)
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync('ip', ['netns', 'delete', name], {stdio: 'ignore'})
  } catch {
    // already gone
  }
  rmSync(join('/etc/netns', name), {recursive: true, force: true})
  log(`removed ${name}`)
}

/** Runs a command and collects its output; never rejects on a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // stdin only when there is input: an empty pipe to a command that exits at once fails with EPIPE
    const child = spawn(cmd, args, {env: opts.env ?? process.env, cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[killed after ${opts.timeoutMs} ms]`
          child.kill('SIGKILL')
        }, opts.timeoutMs)
      : undefined
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({code: code ?? (signal ? 128 : 1), stdout, stderr})
    })
    if (child.stdin) {
      // a command may exit without reading all its input; what it did is in its exit code and output
      child.stdin.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') stderr += `\n[stdin: ${error.message}]`
      })
      child.stdin.end(opts.input)
    }
  })
}

export async function createNetns(prefix = 'dlite-t'): Promise<Netns> {
  if (process.getuid?.() !== 0) throw new Error('the e2e sandbox needs root (ip netns add)')
  const name = `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`
  const etcDir = join('/etc/netns', name)
  mkdirSync(etcDir, {recursive: true})
  const hostsFile = join(etcDir, 'hosts')
  const resolvConf = join(etcDir, 'resolv.conf')
  writeFileSync(hostsFile, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n')
  // No resolver inside the sandbox unless a test sets one up.
  writeFileSync(resolvConf, '# dlite test namespace: no upstream resolver\n')
  live.add(name)
  atLastResort(() => removeSync(name))
  try {
    execFileSync('ip', ['netns', 'add', name], {stdio: 'pipe'})
    execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], {stdio: 'pipe'})
  } catch (error) {
    removeSync(name)
    throw error
  }
  log(`created ${name}`)

  return {
    name,
    hostsFile,
    resolvConf,
    run: (cmd, args, opts) => runCommand('ip', ['netns', 'exec', name, cmd, ...args], opts),
    spawn: (cmd, args, opts = {}) => spawn('ip', ['netns', 'exec', name, cmd, ...args], opts),
    async remove() {
      removeSync(name)
    },
  }
}
