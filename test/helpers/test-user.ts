// A throw-away unprivileged user for the end-to-end tests of what must work without root (DESIGN.md §8), and a
// way to run commands as that user inside a test namespace. The repository is bind-mounted where the user can
// reach it when its own path is not (CI may clone under /root).
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {REPO} from './dlite-cli.js'
import {atLastResort} from './last-resort.js'
import {runCommand, type Netns, type RunOptions, type RunResult} from './netns.js'

export interface TestUser {
  name: string
  uid: number
  gid: number
  home: string
  /** The repository as this user sees it (itself, or a bind mount of it). */
  repo: string
  /** Runs `cmd` as the user inside `ns`, with a clean environment: HOME, PATH, and `env`. */
  run(ns: Netns, cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>
  /** The same outside any namespace: only for what must reach the internet (npm), never for a VM or the network. */
  runOutside(cmd: string, args: string[], opts?: RunOptions): Promise<RunResult>
  /**
   * npm settings for the user's own npm (`dlite plugins install` runs it): a copy of this process's npm cache as
   * theirs, taken first, so what the repository's own install fetched is not fetched again.
   */
  npmCacheFirst(): Record<string, string>
  remove(): void
}

function canReach(uid: number, gid: number, path: string): boolean {
  try {
    execFileSync('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--', 'test', '-r', path], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

// Each user's directory in tmpdir() is `dlite-<name>-XXXXXX`, holding its home, the repository's bind mount when
// one was needed, and the pid of the test process that made it.
const USER_DIR = /^dlite-(dlt[0-9a-f]{6})-[A-Za-z0-9]{6}$/
const CREATOR_FILE = 'creator.pid'

/** Kills the user's processes, unmounts the repository's bind mount, deletes the user and its directory. */
function removeUser(name: string, base: string): void {
  try {
    execFileSync('pkill', ['-KILL', '-u', name], {stdio: 'ignore'})
  } catch {
    // no process left
  }
  const mounted = join(base, 'repo')
  if (readFileSync('/proc/self/mounts', 'utf8').split('\n').some((line) => line.split(' ')[1] === mounted)) {
    try {
      execFileSync('umount', ['-l', mounted], {stdio: 'ignore'})
    } catch {
      // already gone
    }
  }
  try {
    execFileSync('userdel', [name], {stdio: 'ignore'})
  } catch {
    // already gone
  }
  rmSync(base, {recursive: true, force: true})
}

function creatorOf(base: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(base, CREATOR_FILE), 'utf8'), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * The users of test processes that are gone without their cleanup (SIGKILL, a CI timeout): removed before a new one
 * is made. A user whose test process still runs is left alone.
 */
function removeOrphanedUsers(): void {
  for (const entry of readdirSync(tmpdir())) {
    const match = USER_DIR.exec(entry)
    if (!match) continue
    const base = join(tmpdir(), entry)
    const creator = creatorOf(base)
    // no creator yet: being made this moment, unless it has been so for a minute
    if (creator === undefined ? Date.now() - statSync(base).mtimeMs < 60_000 : alive(creator)) continue
    removeUser(match[1], base)
  }
}

export function createTestUser(): TestUser {
  if (process.getuid?.() !== 0) throw new Error('creating a test user needs root (useradd)')
  removeOrphanedUsers()
  const name = `dlt${randomBytes(3).toString('hex')}`
  const base = mkdtempSync(join(tmpdir(), `dlite-${name}-`))
  chmodSync(base, 0o755)
  writeFileSync(join(base, CREATOR_FILE), `${process.pid}\n`)
  const home = join(base, 'home')
  // however the test ends (a failed hook, Ctrl-C, mocha's exit): the user does not outlive it
  const forget = atLastResort(() => removeUser(name, base))
  const remove = () => {
    forget()
    removeUser(name, base)
  }
  let uid: number
  let gid: number
  let repo = REPO
  try {
    execFileSync('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', name], {stdio: 'pipe'})
    uid = Number(execFileSync('id', ['-u', name], {encoding: 'utf8'}).trim())
    gid = Number(execFileSync('id', ['-g', name], {encoding: 'utf8'}).trim())
    if (!canReach(uid, gid, join(REPO, 'bin', 'run.js'))) {
      repo = join(base, 'repo')
      mkdirSync(repo)
      execFileSync('mount', ['--bind', REPO, repo])
    }
  } catch (error) {
    remove()
    throw error
  }
  const asUser = (cmd: string, args: string[], opts: RunOptions) => {
    const env = {HOME: home, USER: name, LOGNAME: name, PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', ...opts.env}
    const pairs = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`)
    return {args: ['--reuid', String(uid), '--regid', String(gid), '--init-groups', '--', 'env', '-i', ...pairs, cmd, ...args], opts: {...opts, env: process.env, cwd: opts.cwd ?? home}}
  }
  return {
    name, uid, gid, home, repo, remove,
    run(ns, cmd, args, opts = {}) {
      const call = asUser(cmd, args, opts)
      return ns.run('setpriv', call.args, call.opts)
    },
    runOutside(cmd, args, opts = {}) {
      const call = asUser(cmd, args, opts)
      return runCommand('setpriv', call.args, call.opts)
    },
    npmCacheFirst() {
      const cache = join(home, '.npm')
      const own = execFileSync('npm', ['config', 'get', 'cache'], {encoding: 'utf8'}).trim()
      if (existsSync(join(own, '_cacache'))) {
        mkdirSync(cache, {recursive: true})
        execFileSync('cp', ['-a', join(own, '_cacache'), cache])
        execFileSync('chown', ['-R', `${uid}:${gid}`, cache])
      }
      return {npm_config_cache: cache, npm_config_prefer_offline: 'true'}
    },
  }
}
