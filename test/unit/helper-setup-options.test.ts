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

  // macOS is not this machine: socket_vmnet's facts are invented
  const vmnet = {binary: '/opt/homebrew/opt/socket_vmnet/bin/socket_vmnet', binaryExists: true, socket: '/opt/homebrew/var/run/socket_vmnet', socketExists: true}

  it('on macOS without socket_vmnet refuses before anything else (no route read), naming brew install and the user network', async () => {
    const checked = await checkSetupOptions(join(dir, 'home'), {subnet: '192.168.100.0/24'}, uid, undefined, 'darwin', {homebrewPrefix: '/opt/homebrew', socketVmnet: {...vmnet, binaryExists: false}})
    expect(checked.ok).to.equal(false)
    if (checked.ok) return
    expect(checked.errors).to.have.length(1)
    expect(checked.errors[0].message).to.match(/through socket_vmnet, and \/opt\/homebrew\/opt\/socket_vmnet\/bin\/socket_vmnet is not there/)
    expect(checked.errors[0].fix).to.contain('brew install socket_vmnet').and.contain('network=user, the default')
  })

  it('on macOS with socket_vmnet registers its network by default; the vmnet bridge\'s own route is no clash', async () => {
    const routes = [{dst: '0.0.0.0/0', dev: 'en0'}, {dst: '192.168.105.0/24', dev: 'bridge100'}, {dst: '10.9.0.0/16', dev: 'utun3'}]
    const checked = await checkSetupOptions(join(dir, 'home'), {}, uid, routes, 'darwin', {socketVmnet: vmnet})
    expect(checked).to.deep.equal({ok: true, value: {subnet: '192.168.105.0/24', hostname: 'local.docker', dnsDomain: 'docker'}})
    const clash = await checkSetupOptions(join(dir, 'home'), {subnet: '10.9.1.0/24'}, uid, routes, 'darwin', {socketVmnet: vmnet})
    expect(clash.ok === false && clash.errors.map((e) => e.message)).to.deep.equal(['10.9.1.0/24 overlaps the host route 10.9.0.0/16 (dev utun3)'])
  })
})
