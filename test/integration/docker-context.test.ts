// The docker context as a user's docker CLI sees it (the real docker CLI, a private DOCKER_CONFIG; no engine is
// needed for contexts): start makes dlite's current, uninstall puts back what was current before.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ensureDockerContext, removeDockerContext} from '../../src/docker/context.js'
import {activateContext, previousContextPath, restorePreviousContext, shouldActivate} from '../../src/lifecycle/context-activation.js'

describe('docker context activation (the real docker CLI)', function () {
  this.timeout(30_000)
  let dir: string
  let home: string
  const saved = {DOCKER_CONFIG: process.env.DOCKER_CONFIG, DOCKER_HOST: process.env.DOCKER_HOST, DOCKER_CONTEXT: process.env.DOCKER_CONTEXT}
  const docker = (...args: string[]) => execFileSync('docker', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: {...process.env, DOCKER_HOST: '', DOCKER_CONTEXT: ''}}).trim()

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-context-'))
    home = join(dir, 'home')
    execFileSync('mkdir', ['-p', home])
    process.env.DOCKER_CONFIG = join(dir, 'docker-config')
    delete process.env.DOCKER_HOST
    delete process.env.DOCKER_CONTEXT
  })
  afterEach(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
    rmSync(dir, {recursive: true, force: true})
  })

  it('makes the context current, remembers the one before, and uninstall puts that one back', async () => {
    docker('context', 'create', 'mine', '--docker', 'host=unix:///tmp/mine.sock')
    docker('context', 'use', 'mine')
    expect((await ensureDockerContext('dlite-t', join(home, 'docker.sock'), 'test')).ok).to.equal(true)
    const activation = await activateContext(home, 'dlite-t', undefined, {})
    expect(activation).to.include({outcome: 'made current', previous: 'mine'})
    expect(docker('context', 'show')).to.equal('dlite-t')
    expect(readFileSync(previousContextPath(home), 'utf8')).to.equal('mine\n')
    // a second start changes nothing, and keeps what to restore
    expect(await activateContext(home, 'dlite-t', undefined, {})).to.include({outcome: 'already current', previous: 'mine'})
    expect(await restorePreviousContext(home, 'dlite-t', undefined)).to.equal('mine')
    expect((await removeDockerContext('dlite-t')).ok).to.equal(true)
    expect(docker('context', 'show')).to.equal('mine')
  })

  it('uninstall leaves alone a context the user chose after dlite\'s; a previous context that is gone gives default', async () => {
    await ensureDockerContext('dlite-t', join(home, 'docker.sock'), 'test')
    docker('context', 'create', 'later', '--docker', 'host=unix:///tmp/later.sock')
    await activateContext(home, 'dlite-t', undefined, {})
    docker('context', 'use', 'later')
    expect(await restorePreviousContext(home, 'dlite-t', undefined)).to.equal(undefined)
    expect(docker('context', 'show')).to.equal('later')
    // dlite's current again, its remembered predecessor removed meanwhile
    await activateContext(home, 'dlite-t', undefined, {})
    docker('context', 'rm', 'later')
    expect(await restorePreviousContext(home, 'dlite-t', undefined)).to.equal('default')
    expect(docker('context', 'show')).to.equal('default')
  })

  it('says when DOCKER_HOST in the shell would win over the current context', async () => {
    await ensureDockerContext('dlite-t', join(home, 'docker.sock'), 'test')
    const activation = await activateContext(home, 'dlite-t', undefined, {DOCKER_HOST: 'tcp://elsewhere:2376'})
    expect(activation.outcome).to.equal('made current')
    expect(activation.overriddenBy).to.match(/^DOCKER_HOST is set in this shell .*unset DOCKER_HOST/)
    expect((await activateContext(home, 'dlite-t', undefined, {DOCKER_CONTEXT: 'dlite-t'})).overriddenBy).to.equal(undefined)
  })

  it('the start flag wins over the config; the default is to activate', () => {
    expect(shouldActivate(undefined, {})).to.equal(true)
    expect(shouldActivate(undefined, {activateContext: false})).to.equal(false)
    expect(shouldActivate(true, {activateContext: false})).to.equal(true)
    expect(shouldActivate(false, {})).to.equal(false)
  })
})
