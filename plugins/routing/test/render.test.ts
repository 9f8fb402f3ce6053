import {expect} from 'chai'

import {renderDisable, renderEnable, renderStatus} from '../src/render.js'

const route = {subnet: '172.17.0.0/16', network: 'bridge', via: '192.168.64.2', dev: 'dlbr-1'}

describe('text output', () => {
  it('enable says what became reachable, or when it will', () => {
    expect(renderEnable({enabled: true, vmRunning: true, applied: 'now', routes: [route], skipped: [{name: 'n2', subnet: '172.19.0.0/16', reason: 'internal network'}]}))
      .to.equal([
        'Routing enabled. Container IPs are reachable from this host:',
        '  172.17.0.0/16  bridge        via 192.168.64.2 dev dlbr-1',
        '  not routed: n2 172.19.0.0/16 (internal network)',
        'New docker networks are routed as they are created.',
      ].join('\n'))
    expect(renderEnable({enabled: true, vmRunning: false, applied: 'next start', routes: [], skipped: []})).to.match(/next `dlite start`/)
  })

  it('disable names what it removed', () => {
    expect(renderDisable({enabled: false, vmRunning: true, removedRoutes: ['172.17.0.0/16'], guestRuleRemoved: true})).to.match(/^Routing disabled: removed 172\.17\.0\.0\/16;/)
    expect(renderDisable({enabled: false, vmRunning: false, removedRoutes: [], guestRuleRemoved: false})).to.equal('Routing disabled.')
  })

  it('status shows routes, what is not routed and why, and the live check verdicts', () => {
    const text = renderStatus({
      enabled: true, vmRunning: true, vmIp: '192.168.64.2', watching: true, routes: [route],
      networks: [{name: 'bridge', subnet: '172.17.0.0/16', state: 'routed'}, {name: 'lan', subnet: '10.0.0.0/16', state: 'conflict', conflict: ['10.0.0.0/8 dev eth0']}],
      skipped: [], guestRule: 'present',
      liveCheck: {method: 'tcp-connect', reachable: true, results: [
        {network: 'bridge', container: 'web1', ip: '172.17.0.2', port: 80, answered: true, outcome: 'refused', ms: 4},
        {network: 'x', container: 'db', ip: '172.20.0.2', port: 5432, answered: false, outcome: 'timeout', ms: 2000, detail: 'no answer within 2000 ms'},
      ]},
    })
    expect(text).to.contain('Routing: enabled')
    expect(text).to.contain('  conflict: lan 10.0.0.0/16 (host route 10.0.0.0/8 dev eth0)')
    expect(text).to.contain('web1 172.17.0.2:80 on bridge: answered (connection refused by the container) in 4 ms')
    expect(text).to.contain('db 172.20.0.2:5432 on x: no answer (timeout: no answer within 2000 ms) in 2000 ms')
  })
})
