// Whether a QEMU binary has its seccomp sandbox (`-sandbox`): Linux builds with libseccomp do; macOS builds
// and some distributions' do not. QEMU parses `-sandbox` before `-version` and exits 1 when it does not know
// the option, so one `-sandbox … -version` run answers without starting a machine. Asked once per binary.
import {run, type Runner} from 'dlite-kit/exec'
import {QEMU_SANDBOX} from './qemu-argv.js'

const known = new Map<string, Promise<boolean>>()

export function qemuHasSandbox(binary: string, runner: Runner = run): Promise<boolean> {
  let answer = known.get(binary)
  if (!answer) {
    answer = runner(binary, ['-sandbox', QEMU_SANDBOX, '-version'], {timeoutMs: 10_000}).then((result) => result.code === 0, () => false)
    if (runner === run) known.set(binary, answer)
  }
  return answer
}
