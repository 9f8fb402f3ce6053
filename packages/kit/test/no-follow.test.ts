import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {changeOwnershipNoFollow} from '../src/no-follow.js'

describe('ownership changes that never follow a link', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kit-nofollow-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('changes the mode (and, as root, the owner) of what was made', function () {
    const made = join(dir, 'state')
    mkdirSync(made, {mode: 0o700})
    changeOwnershipNoFollow(made, {kind: 'directory', mode: 0o755})
    expect(statSync(made).mode & 0o777).to.equal(0o755)
    if (process.getuid?.() !== 0) return
    changeOwnershipNoFollow(made, {kind: 'directory', owner: {uid: 65534, gid: 65534}})
    expect(statSync(made).uid).to.equal(65534)
  })

  it('a link put in its place is refused, and its target keeps owner and mode', () => {
    const precious = join(dir, 'precious')
    writeFileSync(precious, 'keep', {mode: 0o600})
    symlinkSync(precious, join(dir, 'state'))
    expect(() => changeOwnershipNoFollow(join(dir, 'state'), {kind: 'file', mode: 0o666})).to.throw(/ELOOP|not the file/)
    expect(statSync(precious).mode & 0o777).to.equal(0o600)
  })

  it('something else, or someone else\'s, in its place is refused', () => {
    writeFileSync(join(dir, 'state'), '')
    expect(() => changeOwnershipNoFollow(join(dir, 'state'), {kind: 'directory', mode: 0o755})).to.throw(/not the directory/)
    expect(() => changeOwnershipNoFollow(join(dir, 'state'), {kind: 'file', ownedBy: [12345], mode: 0o644})).to.throw(/not the file/)
  })
})
