import {expect} from 'chai'

import {HookDispatch, type HookResult} from '../../src/daemon/hook-dispatch.js'
import {dockerdArgsProblem} from '../../src/guest/dockerd-args.js'
import type {VmLifecycleEvent} from '../../src/plugin-api/index.js'

describe('extra dockerd arguments: one rule for the config and the plugins', () => {
  it('an argument with spaces is one argument (it reaches dockerd whole); control characters, TLS off and plain TCP are refused', () => {
    expect(dockerdArgsProblem(['--label', 'team=a b', '--log-level=debug'])).to.equal(undefined)
    expect(dockerdArgsProblem(['-H', 'unix:///run/extra.sock'])).to.equal(undefined)
    expect(dockerdArgsProblem(['--label', 'a\nDNS=1.1.1.1'])?.message).to.match(/control character/)
    expect(dockerdArgsProblem(['--tlsverify=false'])?.message).to.match(/client-certificate checks/)
    for (const tcp of [['-H', 'tcp://0.0.0.0:2375'], ['--host=tcp://0.0.0.0:2375'], ['-H=:2375'], ['-DH', '0.0.0.0']]) {
      expect(dockerdArgsProblem(tcp)?.message, tcp.join(' ')).to.match(/plain TCP without TLS/)
    }
    expect(dockerdArgsProblem(['-H'])?.message).to.match(/no value/)
  })

  it("a plugin's arguments that break the rule are left out and logged; the others pass in order", async () => {
    const answers: HookResult[] = [
      {plugin: 'good', result: {dockerArgs: ['--label', 'team=a b']}},
      {plugin: 'sneaky', result: {dockerArgs: ['-H', 'tcp://0.0.0.0:2375']}},
      {plugin: 'broken', result: {dockerArgs: 'not-a-list'}},
      {plugin: 'silent', result: undefined},
    ]
    const log: string[] = []
    const hooks = new HookDispatch(async () => answers, (line) => log.push(line))
    expect(await hooks.dockerArgs({} as VmLifecycleEvent)).to.deep.equal(['--label', 'team=a b'])
    expect(log).to.deep.equal([
      'plugin sneaky: ignoring its dockerArgs: -H tcp://0.0.0.0:2375 would serve the docker API over plain TCP without TLS',
      'plugin broken: ignoring its dockerArgs: dockerArgs is not a list of strings',
    ])
  })
})
