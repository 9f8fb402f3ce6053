import {expect} from 'chai'

import {hasNetAdmin} from '../../src/host/capabilities.js'
import {guestArchOf, isSupportedQemu, parseQemuVersion, probeQemu, qemuBinaryName} from '../../src/hypervisor/qemu-binary.js'
import {dliteHome, homeLayout} from '../../src/paths.js'

describe('qemu binary', () => {
  it('parses Debian and upstream version strings', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)')).to.deep.include({major: 7, minor: 2, patch: 19})
    expect(parseQemuVersion('QEMU emulator version 9.1.0\nCopyright')).to.deep.include({major: 9, minor: 1, patch: 0})
    expect(parseQemuVersion('QEMU emulator version 10.0')).to.deep.include({major: 10, minor: 0, patch: 0})
    expect(parseQemuVersion('something else')).to.equal(undefined)
  })

  it('accepts 7.2 and newer only', () => {
    expect(isSupportedQemu({major: 7, minor: 2, patch: 0, text: ''})).to.equal(true)
    expect(isSupportedQemu({major: 6, minor: 9, patch: 0, text: ''})).to.equal(false)
    expect(isSupportedQemu({major: 10, minor: 0, patch: 0, text: ''})).to.equal(true)
  })

  it('names the emulator for an architecture in any spelling (the host\'s, or an OS image\'s)', () => {
    expect(qemuBinaryName('x64')).to.equal('qemu-system-x86_64')
    expect(qemuBinaryName('arm64')).to.equal('qemu-system-aarch64')
    expect(qemuBinaryName('aarch64')).to.equal('qemu-system-aarch64')
    expect(qemuBinaryName('amd64')).to.equal('qemu-system-x86_64')
    expect(qemuBinaryName()).to.equal(process.arch === 'arm64' ? 'qemu-system-aarch64' : 'qemu-system-x86_64')
    expect(guestArchOf('ARM64')).to.equal('aarch64')
    expect(() => qemuBinaryName('ia32')).to.throw(/does not support the ia32/)
    expect(() => guestArchOf('riscv64')).to.throw(/does not support the riscv64 architecture \(x86_64 and aarch64/)
  })

  it('probes the QEMU for the architecture asked (an aarch64 image on an Apple-silicon Mac), the host\'s by default', async () => {
    // a Mac's PATH and QEMU are invented: which() and the runner record what was looked for and run
    const looked: string[] = []
    const ran: string[][] = []
    const which = (name: string) => {
      looked.push(name)
      return `/opt/homebrew/bin/${name}`
    }
    const runner = async (cmd: string, args: string[]) => {
      ran.push([cmd, ...args])
      return {code: 0, stdout: 'QEMU emulator version 10.1.0\n', stderr: ''}
    }
    const probe = await probeQemu(which, runner, 'aarch64')
    expect(probe).to.deep.include({binaryName: 'qemu-system-aarch64', path: '/opt/homebrew/bin/qemu-system-aarch64'})
    expect(probe.version?.text).to.equal('10.1.0')
    expect(looked).to.deep.equal(['qemu-system-aarch64'])
    expect(ran).to.deep.equal([['/opt/homebrew/bin/qemu-system-aarch64', '--version']])
    expect((await probeQemu(which, runner)).binaryName).to.equal(qemuBinaryName(process.arch))
  })
})

describe('capabilities', () => {
  it('reads CAP_NET_ADMIN (bit 12) from CapEff', () => {
    expect(hasNetAdmin('CapEff:\t000001ffffffffff\n')).to.equal(true)
    expect(hasNetAdmin('CapEff:\t0000000000001000\n')).to.equal(true)
    expect(hasNetAdmin('CapEff:\t0000000000000fff\n')).to.equal(false)
    expect(hasNetAdmin('no caps line')).to.equal(false)
  })
})

describe('paths', () => {
  it('DLITE_HOME wins; relative values are made absolute; default is ~/.dlite', () => {
    expect(dliteHome({DLITE_HOME: '/tmp/x'})).to.equal('/tmp/x')
    expect(dliteHome({DLITE_HOME: 'rel'})).to.equal(`${process.cwd()}/rel`)
    expect(dliteHome({})).to.match(/\/\.dlite$/)
    expect(homeLayout('/h').config).to.equal('/h/config.json')
  })
})

describe('table rendering', () => {
  it('aligns columns and wraps the last one to the width', async () => {
    const {renderTable} = await import('../../src/render/table.js')
    const text = renderTable(['A', 'DETAIL'], [['ok', 'one two three four five six'], ['warn', 'short']], 20)
    expect(text.split('\n')).to.deep.equal([
      'A     DETAIL',
      '----  --------------------',
      'ok    one two three four',
      '      five six',
      'warn  short',
    ])
  })
})

describe('invoking user', () => {
  it('under sudo, is the user who ran sudo, with their home from /etc/passwd', async () => {
    const {invokingUser, passwdHome} = await import('../../src/host/invoking-user.js')
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n'
    expect(passwdHome(1000, passwd)).to.equal('/home/alice')
    expect(passwdHome(4242, passwd)).to.equal(undefined)
    if (process.getuid?.() === 0) {
      expect(invokingUser({SUDO_UID: '1000', SUDO_GID: '1000'}, () => passwd)).to.deep.equal({uid: 1000, gid: 1000, home: '/home/alice'})
    }
    const me = invokingUser({})
    expect(me.uid).to.equal(process.getuid?.())
  })
})
