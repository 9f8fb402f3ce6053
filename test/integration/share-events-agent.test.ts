// The guest's share-events agent (os/src/share-events-agent.c), built as the OS build builds it and run on
// the host with its lines on standard input, in a private mount namespace whose /run/dlite/shares names a
// temporary share. It sets the time a file already has (an inotify IN_MODIFY, the file's time unchanged),
// never an older one, and nothing on 9p; and as an attacker would try it, it touches nothing outside a
// read-write virtiofs share: not through "..", not through a symbolic link, not in a read-only share, not for
// a malformed line.
import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GUEST_CONTRACT_VALUES} from '../../src/guest/contract.js'
import {REPO} from '../helpers/dlite-cli.js'
import {inotifyWatchBinary} from '../helpers/inotify-watch.js'

const mtime = (path: string) => statSync(path, {bigint: true}).mtimeNs
const timeText = (ns: bigint) => `${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`

describe('guest share-events agent', function () {
  this.timeout(60_000)
  let dir: string
  let agent: string
  let share: string
  let share9p: string
  let readOnly: string
  let outside: string

  before(function () {
    if (process.getuid?.() !== 0) this.skip() // a private mount namespace needs root
    dir = mkdtempSync(join(tmpdir(), 'dlite-agent-'))
    agent = join(dir, 'share-events-agent')
    execFileSync('cc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', `-DDLITE_FILES_PORT="${GUEST_CONTRACT_VALUES.shareEventsPortName}"`, '-o', agent, join(REPO, 'os', 'src', 'share-events-agent.c')], {stdio: 'pipe'})
  })
  beforeEach(() => {
    share = join(dir, 'share')
    share9p = join(dir, 'share9p')
    readOnly = join(dir, 'readonly')
    outside = join(dir, 'outside')
    for (const d of [share, share9p, readOnly, outside]) rmSync(d, {recursive: true, force: true})
    mkdirSync(join(share, 'project'), {recursive: true})
    mkdirSync(join(share9p, 'project'), {recursive: true})
    mkdirSync(readOnly)
    mkdirSync(outside)
  })
  after(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  /** Runs the agent on these lines, /run/dlite/shares naming a virtiofs and a 9p share (rw) and a read-only one. */
  function runAgent(lines: string[]): string {
    const shares = `share0 virtiofs rw ${share}\nshare1 9p ro ${readOnly}\nshare2 9p rw ${share9p}\n`
    const script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/dlite && printf "%s" "$SHARES" > /run/dlite/shares && exec "$AGENT" --stdin'
    return execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], {
      input: lines.map((l) => `${l}\n`).join(''), env: {...process.env, SHARES: shares, AGENT: agent}, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
    })
  }

  /** Watches `watched` while the agent handles `line`; what the watcher printed. */
  async function eventsFor(watched: string, line: string): Promise<string> {
    const watcher = spawn(inotifyWatchBinary(dir), [watched])
    let out = ''
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()))
    try {
      while (!out.includes('WATCHING')) await new Promise((resolve) => setTimeout(resolve, 20))
      runAgent([line])
      const deadline = Date.now() + 3000
      while (!/MODIFY|ATTRIB/.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      await new Promise((resolve) => setTimeout(resolve, 100))
      return out
    } finally {
      watcher.kill()
    }
  }

  it('virtiofs: sets the time a file has, a modify for its watchers, the file keeping its time to the nanosecond', async () => {
    const file = join(share, 'project', 'app.js')
    writeFileSync(file, 'v1\n')
    const before = mtime(file)
    expect(await eventsFor(join(share, 'project'), `touch ${timeText(before)} ${file}`)).to.contain(`MODIFY\t${join(share, 'project')}\tapp.js\n`)
    expect(mtime(file)).to.equal(before)
  })

  it('9p: no touch at all (its watchers hold inodes no touch reaches), the file left as it was', async () => {
    const file = join(share9p, 'project', 'app.js')
    writeFileSync(file, 'v1\n')
    const before = mtime(file)
    const out = await eventsFor(join(share9p, 'project'), `touch ${timeText(before + 1_000_000_000n)} ${file}`)
    expect(out).to.equal('WATCHING\n')
    expect(mtime(file)).to.equal(before)
  })

  it('never puts an older time back on a file that changed again', () => {
    const file = join(share, 'project', 'app.js')
    writeFileSync(file, 'v2\n')
    const now = mtime(file)
    runAgent([`touch ${timeText(now - 5_000_000_000n)} ${file}`])
    expect(mtime(file)).to.equal(now)
  })

  it('touches nothing outside a read-write share: "..", a link out, a read-only share, other paths, bad lines', () => {
    const victim = join(outside, 'victim')
    writeFileSync(victim, 'x')
    const link = join(share, 'link-out')
    symlinkSync(victim, link)
    const inReadOnly = join(readOnly, 'data')
    writeFileSync(inReadOnly, 'x')
    const victimBefore = mtime(victim)
    const readOnlyBefore = mtime(inReadOnly)
    const projectBefore = mtime(join(share, 'project'))
    const future = timeText(victimBefore + 3_600_000_000_000n)
    runAgent([
      `touch ${future} ${share}/../outside/victim`,
      `touch ${future} ${share}/project/../../outside/victim`,
      `touch ${future} ${victim}`,
      `touch ${future} ${share}-evil/victim`,
      `touch ${future} ${inReadOnly}`,
      `touch ${future} ${link}`,
      `touch 0${future} ${share}/project`,
      `touch ${future.slice(0, -1)} ${share}/project`,
      `touch -1.000000000 ${share}/project`,
      `rm ${share}/project`,
      `touch ${future}`,
    ])
    // the link itself may take the time (AT_SYMLINK_NOFOLLOW); what it leads to does not
    expect(mtime(victim)).to.equal(victimBefore)
    expect(mtime(inReadOnly)).to.equal(readOnlyBefore)
    // the malformed lines (a leading zero, eight digits of nanoseconds, a negative time, another verb) did nothing
    expect(mtime(join(share, 'project'))).to.equal(projectBefore)
  })
})
