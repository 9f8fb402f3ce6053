// A root process loads plugins only from a directory that is root's alone: under sudo, a user's data directory
// (passed in DLITE_DATA_DIR, XDG_DATA_HOME or HOME) would run that user's plugin code as root.
import {expect} from 'chai'
import {chownSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {installedPluginsAllowed, oclifDataDir} from '../../src/host/root-plugin-dir.js'

describe('plugins a root process loads', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-root-plugins-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('finds the data directory as oclif does', () => {
    expect(oclifDataDir({DLITE_DATA_DIR: '/d', XDG_DATA_HOME: '/x', HOME: '/h'})).to.equal('/d')
    expect(oclifDataDir({XDG_DATA_HOME: '/x', HOME: '/h'})).to.equal('/x/dlite')
    expect(oclifDataDir({HOME: '/h'})).to.equal('/h/.local/share/dlite')
  })

  it('a user\'s plugin directory under sudo: root loads none of its plugins, and says so', function () {
    if (process.getuid?.() !== 0) this.skip()
    const users = join(dir, 'ann', '.local', 'share', 'dlite')
    mkdirSync(users, {recursive: true})
    chownSync(users, 1234, 1234)
    for (const env of [{DLITE_DATA_DIR: users}, {HOME: join(dir, 'ann'), XDG_DATA_HOME: join(dir, 'ann', '.local', 'share')}] as NodeJS.ProcessEnv[]) {
      const verdict = installedPluginsAllowed(env, 0)
      expect(verdict.allowed).to.equal(false)
      expect(verdict.warning).to.match(/as root, no installed plugin is loaded from .*owned by uid 1234/)
    }
  })

  it('root\'s own directory is used, and a user\'s process is not touched', () => {
    expect(installedPluginsAllowed({DLITE_DATA_DIR: '/root-only'}, 0, () => [])).to.deep.equal({allowed: true})
    expect(installedPluginsAllowed({DLITE_DATA_DIR: '/anything'}, 1000, () => ['not root\'s'])).to.deep.equal({allowed: true})
  })
})
