// Named instances: which home a profile is, which wins when several are given, and the names refused.
import {expect} from 'chai'
import {join} from 'node:path'

import {contextName} from '../../src/docker/context.js'
import {defaultHome, dliteHome, profileHome, ProfileNameError, profileOf, profilesDir} from '../../src/paths.js'

describe('profiles', () => {
  it('a profile lives in ~/.dlite-profiles/NAME, beside ~/.dlite and never inside it; default is ~/.dlite', () => {
    expect(profileHome('work')).to.equal(join(profilesDir(), 'work'))
    expect(profileHome('work').startsWith(defaultHome() + '/')).to.equal(false)
    expect(profileHome('default')).to.equal(defaultHome())
  })

  it('DLITE_HOME wins over DLITE_PROFILE, which wins over the default', () => {
    expect(dliteHome({DLITE_HOME: '/srv/vm', DLITE_PROFILE: 'work'})).to.equal('/srv/vm')
    expect(dliteHome({DLITE_PROFILE: 'work'})).to.equal(join(profilesDir(), 'work'))
    expect(dliteHome({})).to.equal(defaultHome())
  })

  it('refuses names that are not one path segment of lower-case letters, digits and dashes', () => {
    for (const bad of ['../x', 'a/b', 'Work', '-x', '', 'x'.repeat(31), 'a b', '.']) {
      expect(() => profileHome(bad), bad).to.throw(ProfileNameError, /invalid profile name/)
    }
  })

  it('knows a home\'s profile, and names its docker context after it', () => {
    expect(profileOf(defaultHome())).to.equal('default')
    expect(profileOf(profileHome('work'))).to.equal('work')
    expect(profileOf('/srv/vm')).to.equal(undefined)
    expect(profileOf(join(profilesDir(), 'work', 'nested'))).to.equal(undefined)
    expect(contextName(defaultHome())).to.equal('dlite')
    expect(contextName(profileHome('work'))).to.equal('dlite-work')
    expect(contextName('/srv/vm')).to.match(/^dlite-[0-9a-f]{6}$/)
  })
})
