// `sudo dlite network setup` and `sudo dlite install --network bridged` check their options before root does
// anything. macOS is not this machine: the platform is passed in, and the host's routes are given (none read).
import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {checkSetupOptions} from '../../src/helper/setup-options.js'

describe('network setup options', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-setup-options-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))
  const uid = process.getuid?.() ?? 0

  it('on Linux takes the defaults for a home of the user\'s', async () => {
    const checked = await checkSetupOptions(join(dir, 'home'), {}, uid, [], 'linux')
    expect(checked).to.deep.equal({ok: true, value: {subnet: '192.168.64.0/24', hostname: 'local.docker', dnsDomain: 'docker'}})
  })

  it('on macOS refuses before anything of the Linux root part (bridge, tap, nft, routes), naming the way out', async () => {
    const checked = await checkSetupOptions(join(dir, 'home'), {subnet: '192.168.100.0/24'}, uid, undefined, 'darwin')
    expect(checked.ok).to.equal(false)
    if (checked.ok) return
    expect(checked.errors).to.have.length(1)
    expect(checked.errors[0].message).to.match(/not available on macOS yet: it needs socket_vmnet.*docs\/MACOS\.md/)
    expect(checked.errors[0].fix).to.contain('network=user, the default')
  })
})
