// Ctrl-C (SIGINT) at any moment of `install` and `update` leaves no half state: the home is either not there or
// complete, nothing is left staged beside it, and after an interrupted update the current image is whole and
// still the one the config names. The interrupts land at several points; whatever each hits, the rule holds.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {BUILT_OS_MANIFEST, CLI, dliteCli} from '../helpers/dlite-cli.js'

const DELAYS_MS = [150, 400, 700, 1000, 1500, 2500]

/** Runs the CLI and sends it SIGINT after delayMs; resolves with its exit code (or signal). */
function interrupted(args: string[], env: NodeJS.ProcessEnv, delayMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {env: {...process.env, ...env}, stdio: 'ignore'})
    const timer = setTimeout(() => child.kill('SIGINT'), delayMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(signal ?? String(code))
    })
  })
}

/** The image a home's config names, checked file by file against its manifest's sha256. */
function currentImageIsWhole(home: string): {version: string; whole: boolean} {
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
  const version = config.image.current as string
  const dir = join(home, 'images', version)
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {files: Array<{name?: string; path?: string; sha256: string}>}
  const whole = manifest.files.every((f) => {
    const file = join(dir, (f.name ?? f.path)!)
    return existsSync(file) && createHash('sha256').update(readFileSync(file)).digest('hex') === f.sha256
  })
  return {version, whole}
}

describe('Ctrl-C during install and update', function () {
  this.timeout(5 * 60_000)
  let dir: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-interrupt-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  for (const delay of DELAYS_MS) {
    it(`install interrupted after ${delay} ms: no home, or a complete one; nothing staged left`, async () => {
      const parent = join(dir, `install-${delay}`)
      const home = join(parent, 'home')
      const how = await interrupted(['install', '--yes', '--network', 'user', '--os', BUILT_OS_MANIFEST, '--share', dir, '--ssh-key', 'none'], {DLITE_HOME: home}, delay)
      const left = existsSync(parent) ? readdirSync(parent).filter((n) => n !== 'home') : []
      expect(left, `staging left beside the home (exit ${how})`).to.deep.equal([])
      if (existsSync(home)) {
        expect(currentImageIsWhole(home).whole, `exit ${how}: a home that exists is complete`).to.equal(true)
        const status = await dliteCli({DLITE_HOME: home}).json<{state: string}>(['status'])
        expect(status.body.state).to.equal('stopped')
      }
      // and install works afterwards either way
      const again = await dliteCli({DLITE_HOME: home})(['install', '--yes', '--force', '--network', 'user', '--os', BUILT_OS_MANIFEST, '--share', dir, '--ssh-key', 'none'])
      expect(again.code, again.stderr).to.equal(0)
    })
  }

  describe('update', () => {
    let home: string
    let v1: string
    let v2Manifest: string

    before(async () => {
      home = join(dir, 'update-home')
      const installed = await dliteCli({DLITE_HOME: home})(['install', '--yes', '--network', 'user', '--os', BUILT_OS_MANIFEST, '--share', dir, '--ssh-key', 'none'])
      expect(installed.code, installed.stderr).to.equal(0)
      v1 = JSON.parse(readFileSync(BUILT_OS_MANIFEST, 'utf8')).version
      // the same files under another version: update copies and verifies them like any new image
      cpSync(dirname(BUILT_OS_MANIFEST), join(dir, 'img-v2'), {recursive: true, dereference: true})
      v2Manifest = join(dir, 'img-v2', 'manifest.json')
      const m = JSON.parse(readFileSync(v2Manifest, 'utf8'))
      m.version = '0.2.0-interrupt'
      writeFileSync(v2Manifest, JSON.stringify(m, null, 2))
    })

    for (const delay of DELAYS_MS) {
      it(`update interrupted after ${delay} ms: the config names a whole image, the old one or the new`, async () => {
        const how = await interrupted(['update', '--yes', '--os', v2Manifest], {DLITE_HOME: home}, delay)
        const {version, whole} = currentImageIsWhole(home)
        expect([v1, '0.2.0-interrupt'], `exit ${how}`).to.include(version)
        expect(whole, `exit ${how}: image ${version} is whole`).to.equal(true)
        if (version === '0.2.0-interrupt') {
          // back to v1 for the next case: --rollback is what a user would run
          const back = await dliteCli({DLITE_HOME: home})(['update', '--rollback', '--yes'])
          expect(back.code, back.stderr).to.equal(0)
        }
        const left = readdirSync(join(home, 'images')).filter((n) => ![v1, '0.2.0-interrupt'].includes(n))
        expect(left, 'nothing half-copied left in images/').to.deep.equal([])
      })
    }
  })
})
