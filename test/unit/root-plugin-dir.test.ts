// A root process loads plugins only from a directory that is root's alone: under sudo, a user's data directory
// (passed in DLITE_DATA_DIR, XDG_DATA_HOME or HOME) would run that user's plugin code as root.
import {expect} from 'chai'
import {chownSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir, userInfo} from 'node:os'
import {join} from 'node:path'

import {keepRootToRootsPlugins, oclifDataDir} from '../../src/host/root-plugin-dir.js'

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

  it('a user\'s plugin directory under sudo is replaced by root\'s own, and it says so', function () {
    if (process.getuid?.() !== 0) this.skip()
    const users = join(dir, 'ann', '.local', 'share', 'dlite')
    mkdirSync(users, {recursive: true})
    chownSync(users, 1234, 1234)
    for (const env of [{DLITE_DATA_DIR: users}, {HOME: join(dir, 'ann'), XDG_DATA_HOME: join(dir, 'ann', '.local', 'share')}] as NodeJS.ProcessEnv[]) {
      const warning = keepRootToRootsPlugins(env, 0)
      expect(warning).to.match(/as root, plugins are loaded from .* not from .*owned by uid 1234/)
      expect(env.DLITE_DATA_DIR).to.equal(join(userInfo().homedir, '.local', 'share', 'dlite'))
    }
  })

  it('root\'s own directory stays, and nobody else is touched', () => {
    const env: NodeJS.ProcessEnv = {DLITE_DATA_DIR: '/root-only'}
    expect(keepRootToRootsPlugins(env, 0, () => [])).to.equal(undefined)
    expect(env.DLITE_DATA_DIR).to.equal('/root-only')
    const user: NodeJS.ProcessEnv = {DLITE_DATA_DIR: '/anything'}
    expect(keepRootToRootsPlugins(user, 1000, () => ['not root\'s'])).to.equal(undefined)
    expect(user.DLITE_DATA_DIR).to.equal('/anything')
  })
})
