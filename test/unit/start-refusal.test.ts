// Who may start a VM: never root for a user's VM (whatever its config says of its owner), and a user's bridged VM
// only once the root helper knows its home.
import {expect} from 'chai'
import {chownSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {startRefusal} from '../../src/lifecycle/vm-control.js'

describe('start refusal', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-start-refusal-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('root does not start a VM whose home is a user\'s, even when its config names no owner (the user may edit it)', function () {
    if (process.getuid?.() !== 0) this.skip()
    const home = join(dir, 'home')
    mkdirSync(home)
    chownSync(home, 1234, 1234)
    for (const network of ['user', 'bridged'] as const) {
      expect(startRefusal(home, {network})?.message, network).to.match(/belongs to uid 1234 .* never as root/)
      expect(startRefusal(home, {network, owner: {uid: 1234, gid: 1234, home: dir}})?.message, network).to.match(/belongs to uid 1234/)
    }
    const roots = join(dir, 'roots')
    mkdirSync(roots)
    expect(startRefusal(roots, {network: 'bridged'})).to.equal(undefined)
  })
})
