// `dlite env`: what each shell is given, and that a socket path with quotes and spaces survives eval.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'

import {detectShell, shellEnv} from '../../src/docker/shell-env.js'

describe('dlite env output', () => {
  const awkward = "unix:///home/o'neil/my dlite/docker.sock"

  it('bash: the value read back after eval is the value given, quotes and spaces included', () => {
    const script = `${shellEnv('bash', {DOCKER_HOST: awkward})}\nprintf %s "$DOCKER_HOST"`
    expect(execFileSync('bash', ['-c', script], {encoding: 'utf8'})).to.equal(awkward)
    const unset = `export DOCKER_HOST=x\n${shellEnv('bash', {DOCKER_HOST: awkward}, true)}\nprintf %s "\${DOCKER_HOST-unset}"`
    expect(execFileSync('bash', ['-c', unset], {encoding: 'utf8'})).to.equal('unset')
  })

  it('fish and PowerShell get their own syntax and quoting', () => {
    expect(shellEnv('fish', {DOCKER_HOST: awkward}).split('\n')[0]).to.equal("set -gx DOCKER_HOST 'unix:///home/o\\'neil/my dlite/docker.sock';")
    expect(shellEnv('fish', {DOCKER_HOST: awkward}, true).split('\n')[0]).to.equal('set -e DOCKER_HOST;')
    expect(shellEnv('powershell', {DOCKER_HOST: awkward}).split('\n')[0]).to.equal("$Env:DOCKER_HOST = 'unix:///home/o''neil/my dlite/docker.sock'")
    expect(shellEnv('powershell', {DOCKER_HOST: awkward}).split('\n')[1]).to.match(/^# .*Invoke-Expression$/)
  })

  it('takes the shell from $SHELL, and bash syntax for any other', () => {
    expect(detectShell('/usr/bin/fish')).to.equal('fish')
    expect(detectShell('/usr/local/bin/pwsh')).to.equal('powershell')
    expect(detectShell('/bin/zsh')).to.equal('zsh')
    expect(detectShell('/bin/dash')).to.equal('bash')
    expect(detectShell(undefined)).to.equal('bash')
  })
})
