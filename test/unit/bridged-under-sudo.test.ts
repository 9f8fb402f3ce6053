// `sudo dlite install --network bridged`: the user's half runs with the user's own environment, not sudo's.
import {expect} from 'chai'

import {invokingUserEnv} from '../../src/install/bridged-under-sudo.js'

describe('sudo install of a bridged VM', () => {
  it('runs the user\'s install without sudo\'s markers, in their home, under their name', () => {
    const env = invokingUserEnv(
      {SUDO_UID: '1000', SUDO_GID: '1000', SUDO_USER: 'ann', SUDO_COMMAND: '/usr/bin/dlite install', HOME: '/root', PATH: '/usr/bin', DLITE_PROFILE: 'work'},
      {uid: 1000, gid: 1000, home: '/home/ann'}, 'ann',
    )
    expect(env).to.deep.equal({HOME: '/home/ann', PATH: '/usr/bin', DLITE_PROFILE: 'work', USER: 'ann', LOGNAME: 'ann'})
  })
})
