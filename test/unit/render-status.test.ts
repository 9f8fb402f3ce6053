// `dlite status` as text: the rows a user reads after something went wrong.
import {expect} from 'chai'

import {stopReport} from '../../src/lifecycle/vm-control.js'
import {renderStatus} from '../../src/render/status.js'

describe('status rendering', () => {
  const base = {home: '/h', cpus: 2, memoryGiB: 2, ip: '127.0.0.1', hostname: 'dlite', dockerSocket: '/h/docker.sock', dockerContext: 'dlite'}

  it('a VM that was restarted says how often, and what the last restart was and why', () => {
    const text = renderStatus({...base, state: 'running', restarts: 1,
      lastRestart: 'QEMU exited with code 0 after a guest kernel panic (Fatal exception); the VM was booted again (2026-12-02T21:00:00.000Z)'})
    expect(text).to.match(/^restarts {5}1$/m)
    expect(text).to.match(/^last restart QEMU exited with code 0 after a guest kernel panic \(Fatal exception\)/m)
  })

  it('a VM that never restarted shows neither row; an error rides on the state', () => {
    const text = renderStatus({...base, state: 'running', restarts: 0, lastError: 'docker: dockerd exited 6 times in 10 minutes'})
    expect(text).to.not.match(/restart/)
    expect(text).to.match(/^state {8}running \(docker: dockerd exited 6 times in 10 minutes\)$/m)
  })

  it('a VM the user paused says since when and what lets it go on', () => {
    const since = new Date(2026, 11, 5, 9, 30, 5).getTime()
    const text = renderStatus({...base, state: 'paused', pausedSince: since})
    expect(text).to.match(/^state {8}paused since 09:30:05 \(`dlite resume` lets it go on\)$/m)
  })

  it('a stopped VM with a saved state says when it was saved and that start resumes it; a running one how it came up', () => {
    const saved = new Date(2026, 11, 7, 18, 3, 2).getTime()
    const stopped = renderStatus({...base, state: 'stopped', savedState: {savedAt: saved, bytes: 412 * 1024 * 1024}})
    expect(stopped).to.match(/^saved state {2}from 18:03:02, 412 MiB: `dlite start` resumes it \(`--cold` boots instead\)$/m)
    expect(renderStatus({...base, state: 'running', resumedFrom: saved})).to.match(/^resumed {6}from the state saved at 18:03:02$/m)
    const cold = renderStatus({...base, state: 'running', coldBoot: 'the saved state was not used: the host was restarted since the save'})
    expect(cold).to.match(/^cold boot {4}the saved state was not used: the host was restarted since the save$/m)
    expect(renderStatus({...base, state: 'running'})).to.not.match(/saved state|resumed|cold boot/)
  })

  it('dlite stop says what it did: saved (with size and time), powered off and why, or nothing ran', () => {
    expect(stopReport({wasRunning: true, cleanedUp: [], saved: {bytes: 405 * 1024 * 1024, ms: 5940}}))
      .to.equal('dlite stopped; its state was saved (405 MiB in 5.9 s): `dlite start` resumes it (`--cold` boots instead).')
    expect(stopReport({wasRunning: true, cleanedUp: [], poweredOff: 'the state could not be saved: a container has a share mounted (pid 9 (sleep))'}))
      .to.equal('dlite stopped (powered off: the state could not be saved: a container has a share mounted (pid 9 (sleep))).')
    expect(stopReport({wasRunning: true, cleanedUp: [], poweredOff: 'asked to (--cold)'})).to.equal('dlite stopped.')
    expect(stopReport({wasRunning: false, cleanedUp: []})).to.equal('dlite is not running.')
  })
})
