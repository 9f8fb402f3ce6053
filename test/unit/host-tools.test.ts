import {expect} from 'chai'

import {hasNetAdmin} from '../../src/host/capabilities.js'
import {isSupportedQemu, parseQemuVersion, qemuBinaryName} from '../../src/hypervisor/qemu-binary.js'
import {dliteHome, homeLayout} from '../../src/paths.js'
import {run, runOrThrow, which} from '../../src/util/exec.js'

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

  it('names the emulator for the host architecture', () => {
    expect(qemuBinaryName('x64')).to.equal('qemu-system-x86_64')
    expect(qemuBinaryName('arm64')).to.equal('qemu-system-aarch64')
    expect(() => qemuBinaryName('ia32')).to.throw(/does not support the ia32/)
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

describe('exec', () => {
  it('collects output and exit codes without a shell', async () => {
    const ok = await run('node', ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'])
    expect(ok).to.deep.equal({code: 3, stdout: 'out', stderr: 'err'})
    expect((await run('/nonexistent/binary', [])).code).to.equal(127)
  })

  it('kills a program that overruns its deadline', async () => {
    const slow = await run('sleep', ['5'], {timeoutMs: 100})
    expect(slow.code).to.equal(124)
    expect(slow.stderr).to.contain('timed out')
  })

  it('runOrThrow carries the program message', async () => {
    let caught: Error | undefined
    try {
      await runOrThrow('node', ['-e', 'console.error("boom"); process.exit(1)'])
    } catch (error) {
      caught = error as Error
    }
    expect(caught?.message).to.match(/exit 1\): boom/)
  })

  it('which finds executables and sbin tools, not missing ones', () => {
    expect(which('node')).to.match(/node$/)
    expect(which('definitely-not-a-dlite-binary')).to.equal(undefined)
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
