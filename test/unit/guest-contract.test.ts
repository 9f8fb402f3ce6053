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

  const scripts = ['initrd/init', 'rootfs/usr/lib/dlite/rc.boot', 'rootfs/usr/lib/dlite/rc.shutdown', 'rootfs/usr/lib/dlite/control-agent', 'rootfs/usr/lib/dlite/lib.sh', 'src/share-events-agent.c']

  it('contract.sh, generated from the contract, holds every value as the guest scripts read it', async () => {
    const {contractShell, SHELL_NAMES} = await import('../../os/contract.js')
    const text = contractShell()
    for (const [key, name] of Object.entries(SHELL_NAMES)) {
      const value = (C as unknown as Record<string, unknown>)[key]
      expect(text).to.include(`\n${name}='${Array.isArray(value) ? value.join(' ') : String(value)}'\n`.slice(1))
    }
    // a value the shell could misread, or a key the guest would never see, stops the build
    expect(() => contractShell({...C, dataDiskSerial: 'x$(reboot)'})).to.throw(/misread/)
    expect(() => contractShell({...C, newThing: 1})).to.throw(/newThing/)
  })

  it('the guest scripts take the values from contract.sh and type none of them by hand', async () => {
    const {SHELL_NAMES} = await import('../../os/contract.js')
    const literals = [C.settingsFwCfgName, C.rootDiskSerial, C.dataDiskSerial, C.readinessPortName, C.guestControlPortName, C.shareEventsPortName, `:${C.dockerTlsPort}`]
    for (const script of scripts) {
      const code = read(script).split('\n').filter((line) => !/^\s*(#|\/\/)/.test(line)).join('\n')
      for (const literal of literals) expect(code, `${script} types ${literal}`).not.to.include(literal)
      for (const used of code.matchAll(/\$\{?(DLITE_[A-Z_]+)/g)) {
        if (['DLITE_PORT'].includes(used[1])) continue // the readiness port's device, found at boot
        expect(Object.values(SHELL_NAMES), `${script} uses ${used[1]}`).to.include(used[1])
      }
    }
    expect(read('initrd/init')).to.match(/^\. \/contract\.sh$/m)
    expect(read('rootfs/usr/lib/dlite/lib.sh')).to.match(/^\. \/usr\/lib\/dlite\/contract\.sh$/m)
    const assemble = read('scripts/assemble.sh')
    expect(assemble).to.include('install -m 0644 "$contract" "$ird/contract.sh"').and.include('install -m 0644 "$contract" "$root/usr/lib/dlite/contract.sh"')
    expect(assemble).to.include('-DDLITE_FILES_PORT=')
    expect(read('src/share-events-agent.c')).to.include('strcmp(name, DLITE_FILES_PORT)')
  })

  it('dockerd\'s TLS API listens on the VM\'s address and the guest loopback, not on every address', () => {
    expect(rcBoot).to.include('--host "tcp://$guest_ip:$DLITE_DOCKER_TLS_PORT" --host "tcp://127.0.0.1:$DLITE_DOCKER_TLS_PORT"')
    expect(rcBoot.indexOf('guest_ip=${IP%/*}')).to.be.lessThan(rcBoot.indexOf('--host "tcp://$guest_ip'))
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

  it('os/build.js writes the contract into the manifest and contract.sh for the guest', () => {
    expect(read('contract.js')).to.match(/readFileSync\(path\.join\(osDir, 'contract\.json'\)/)
    expect(read('build.js')).to.match(/contract: CONTRACT\.contract,/).and.match(/DLITE_OS_CONTRACT: contractFile/)
    expect(GUEST_CONTRACT).to.be.a('number')
  })
})
