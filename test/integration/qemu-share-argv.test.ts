// The 9p share arguments were once refused by QEMU itself (mount_tag on -fsdev) while the unit test, which
// only compared strings, passed. Here the real QEMU parses them: it is started paused (-S), with no disk,
// network or kernel, so nothing boots; still running after a moment means it accepted the devices.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {buildQemuArgv, QEMU_SANDBOX} from '../../src/hypervisor/qemu-argv.js'
import {qemuHasSandbox} from '../../src/hypervisor/qemu-sandbox.js'

/** The arguments that follow each -fsdev / -device in argv, as pairs. */
function shareArgs(args: string[]): string[] {
  return args.flatMap((arg, i) => (arg === '-fsdev' || (arg === '-device' && args[i + 1].startsWith('virtio-9p')) ? [arg, args[i + 1]] : []))
}

async function qemuAccepts(extra: string[]): Promise<{ok: boolean; stderr: string}> {
  const child = spawn('qemu-system-x86_64', ['-M', 'q35', '-nodefaults', '-display', 'none', '-S', '-monitor', 'none', '-serial', 'none', ...extra])
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 1500)
    child.on('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  if (!exited) child.kill('SIGKILL')
  return {ok: !exited, stderr}
}

describe('QEMU accepts the share arguments dlite builds', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-9p-'))
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  for (const readOnly of [false, true]) {
    it(`9p${readOnly ? ', read-only' : ''}`, async () => {
      const {args} = buildQemuArgv({accel: 'tcg', cpus: 1, memoryMiB: 256, kernel: '/k', initrd: '/i', cmdline: '', shares: [{type: '9p', path: dir, tag: 'share0', readOnly}]})
      const share = shareArgs(args)
      expect(share).to.have.length(4)
      const verdict = await qemuAccepts(share)
      expect(verdict.ok, verdict.stderr).to.equal(true)
    })
  }

  it('and the check can fail: QEMU refuses a bad -fsdev option', async () => {
    const verdict = await qemuAccepts(['-fsdev', `local,id=fs0,path=${dir},mount_tag=x,security_model=none`])
    expect(verdict.ok).to.equal(false)
    expect(verdict.stderr).to.contain("Invalid parameter 'mount_tag'")
  })

  it('this QEMU has the seccomp sandbox, and a machine with 9p starts under it', async () => {
    expect(await qemuHasSandbox('qemu-system-x86_64')).to.equal(true)
    const {args} = buildQemuArgv({accel: 'tcg', cpus: 1, memoryMiB: 256, kernel: '/k', initrd: '/i', cmdline: '', shares: [{type: '9p', path: dir, tag: 'share0'}]})
    const verdict = await qemuAccepts(['-sandbox', QEMU_SANDBOX, ...shareArgs(args)])
    expect(verdict.ok, verdict.stderr).to.equal(true)
  })
})
