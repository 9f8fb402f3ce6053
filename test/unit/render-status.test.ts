// `dlite status` as text: the rows a user reads after something went wrong.
import {expect} from 'chai'

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
})
