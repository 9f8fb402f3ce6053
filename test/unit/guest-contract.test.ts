// The host's side of the host/guest contract (os/contract.json, read by src/guest/contract.ts) against the
// guest's: the scripts in os/ must use the same names, serials, port and settings keys, and os/build.js must
// write the contract into the manifest. A value changed on one side only fails here.
import {expect} from 'chai'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {GUEST_CONTRACT, GUEST_CONTRACT_VALUES as C} from '../../src/guest/contract.js'
import {renderSettingsEnv} from '../../src/guest/settings.js'

const OS = join(import.meta.dirname, '..', '..', 'os')
const read = (path: string) => readFileSync(join(OS, path), 'utf8')

describe('host/guest contract (os/contract.json)', () => {
  const rcBoot = read('rootfs/usr/lib/dlite/rc.boot')

  it('the guest scripts use the contract\'s names, serials and port', () => {
    expect(rcBoot).to.include(`/sys/firmware/qemu_fw_cfg/by_name/${C.settingsFwCfgName}/raw`)
    expect(rcBoot).to.include(`= ${C.dataDiskSerial} ]`)
    expect(read('initrd/init')).to.include(`= ${C.rootDiskSerial} ]`)
    expect(rcBoot).to.include(`--host tcp://0.0.0.0:${C.dockerTlsPort} --tlsverify`)
    expect(read('rootfs/usr/lib/dlite/lib.sh')).to.include(C.readinessPortName).and.include(C.guestControlPortName).and.include(C.shareEventsPortName)
    expect(rcBoot).to.include(`dlite_port ${C.readinessPortName}`)
    expect(read('rootfs/usr/lib/dlite/clock-agent')).to.include(`dlite_port ${C.guestControlPortName}`)
    expect(read('src/share-events-agent.c')).to.include(`"${C.shareEventsPortName}"`)
  })

  it('rc.boot reads exactly the settings keys of the contract, and the host writes no other', () => {
    const loop = rcBoot.slice(rcBoot.indexOf('while IFS= read -r line'), rcBoot.indexOf('done < $S/settings.env'))
    const keys = [...loop.matchAll(/^\s+([A-Z_]+)\) /gm)].map((m) => m[1])
    expect(keys).to.deep.equal(C.settingsKeys)
    const written = renderSettingsEnv({
      hostname: 'vm', network: {address: '10.0.0.2', prefix: 24, gateway: '10.0.0.1', dns: ['10.0.0.1'], hostAddress: '10.0.0.1', mac: '52:54:00:00:00:01'},
      shares: [{path: '/home/a', tag: 'share0'}], dockerArgs: ['--debug'],
    }).split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split('=')[0])
    expect([...new Set(written)].sort()).to.deep.equal([...C.settingsKeys].sort())
  })

  it('os/build.js writes the contract into the manifest', () => {
    expect(read('build.js')).to.match(/readFileSync\(path\.join\(osDir, 'contract\.json'\)/).and.match(/contract: CONTRACT\.contract,/)
    expect(GUEST_CONTRACT).to.be.a('number')
  })
})
