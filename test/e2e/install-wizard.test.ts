// The install wizard in a real terminal: tmux runs `dlite install`, send-keys types the answers, capture-pane
// reads the screen. A wrong answer is asked again with the validator's message; the rest take defaults.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, CLI} from '../helpers/dlite-cli.js'

const tmux = (...args: string[]) => execFileSync('tmux', args, {encoding: 'utf8'})
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('dlite install wizard (tmux)', function () {
  this.timeout(120_000)
  let dir: string
  const session = `dlite-wizard-${process.pid}`

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-wizard-'))
    mkdirSync(join(dir, 'share'))
  })
  after(() => {
    try {
      tmux('kill-session', '-t', session)
    } catch {
      // already gone
    }
    rmSync(dir, {recursive: true, force: true})
  })

  async function waitForScreen(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    let screen = ''
    while (Date.now() < deadline) {
      screen = tmux('capture-pane', '-p', '-t', session)
      if (pattern.test(screen)) return screen
      await sleep(150)
    }
    throw new Error(`screen never showed ${pattern}:\n${screen}`)
  }

  const answer = (text: string) => {
    if (text) tmux('send-keys', '-t', session, '-l', text)
    tmux('send-keys', '-t', session, 'Enter')
  }

  it('asks each question with its default, re-asks a bad answer, then installs', async () => {
    const home = join(dir, 'home')
    // Flags cover what would touch shared places (the socket path) or need a choice the test makes itself.
    const command = [
      `DLITE_HOME=${home}`, process.execPath, CLI, 'install', '--docker-socket', join(dir, 'run', 'docker.sock'),
      '--os', BUILT_OS_MANIFEST, '--ssh-key', 'none', '; echo WIZARD-EXIT=$?; sleep 60',
    ].join(' ')
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', command)

    await waitForScreen(/Network: user .* \(user\)/)
    answer('wifi')
    await waitForScreen(/"wifi" is not a network mode/)
    tmux('send-keys', '-t', session, 'C-u')
    answer('')
    await waitForScreen(/CPUs \(1-\d+\)/)
    answer('64')
    await waitForScreen(/outside 1\.\.\d+/)
    tmux('send-keys', '-t', session, 'C-u')
    answer('1')
    const memory = await waitForScreen(/Memory in GiB/)
    expect(memory).to.match(/Memory in GiB \(1-\d+\) \(2\)/)
    answer('')
    await waitForScreen(/Disk in GiB.*\(20\)/)
    answer('9')
    await waitForScreen(/Hostname of the VM \(local\.docker\)/)
    answer('wizard.docker')
    await waitForScreen(/Directories to share/)
    tmux('send-keys', '-t', session, 'C-u')
    answer(join(dir, 'share'))
    await waitForScreen(/Extra dockerd arguments/)
    answer('')
    const done = await waitForScreen(/WIZARD-EXIT=\d+/, 60_000)
    expect(done).to.contain('WIZARD-EXIT=0')
    expect(done).to.contain('dlite is installed in')
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
    expect(config).to.include({network: 'user', cpus: 1, memoryGiB: 2, diskGiB: 9, hostname: 'wizard.docker'})
    expect(config.mounts).to.deep.equal([{path: join(dir, 'share')}])
    expect(existsSync(join(home, 'disk.img'))).to.equal(true)
  })
})
