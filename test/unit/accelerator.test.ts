// The accelerator decision is pure: every branch is driven by made-up probe
// facts (macOS/HVF cannot exist on this Linux machine, so its facts are
// invented here too). The real addon is exercised in test/integration/native.test.ts.
import {expect} from 'chai'

import {
  ACCELERATOR_REQUESTS,
  AcceleratorError,
  chooseAccelerator,
  parseAcceleratorRequest,
  type AcceleratorFacts,
} from '../../src/host/accelerator.js'
import {decideAccelerator} from '../../src/host/accelerator-facts.js'
import {loadNative, NATIVE_FIX, NativeAddonError} from '../../src/host/native.js'

const KVM_OK = 'KVM works: it is provided by kvm_intel (hardware virtualization)'
const KVM_PVM =
  '/dev/kvm is present but cannot run stock guests: it is provided by kvm_pvm, a paravirtual KVM backend'
const NO_KVM = '/dev/kvm does not exist: enable VT-x/AMD-V in the firmware'
const HVF_OK = 'Hypervisor.framework is supported (kern.hv_support = 1)'
const HVF_OFF = 'kern.hv_support = 0: the CPU does not offer hardware virtualization'

function linux(kvm: AcceleratorFacts['accelerators']['kvm']): AcceleratorFacts {
  return {platform: 'linux', accelerators: {kvm, hvf: null}}
}

function darwin(hvf: AcceleratorFacts['accelerators']['hvf']): AcceleratorFacts {
  return {platform: 'darwin', accelerators: {kvm: null, hvf}}
}

const kvmUsable = linux({present: true, usable: true, reason: KVM_OK})
const kvmPresentUnusable = linux({present: true, usable: false, reason: KVM_PVM})
const kvmAbsent = linux({present: false, usable: false, reason: NO_KVM})
const kvmNotProbed = linux(null)
const hvfUsable = darwin({present: true, usable: true, reason: HVF_OK})
const hvfUnusable = darwin({present: true, usable: false, reason: HVF_OFF})
const freebsd: AcceleratorFacts = {platform: 'freebsd', accelerators: {kvm: null, hvf: null}}

function thrown(fn: () => unknown): AcceleratorError {
  try {
    fn()
  } catch (error) {
    expect(error).to.be.instanceOf(AcceleratorError)
    return error as AcceleratorError
  }
  expect.fail('expected an AcceleratorError')
}

describe('accelerator decision', () => {
  describe('parseAcceleratorRequest', () => {
    it('accepts every documented value, case-insensitively, and empty as auto', () => {
      for (const v of ACCELERATOR_REQUESTS) expect(parseAcceleratorRequest(v)).to.equal(v)
      expect(parseAcceleratorRequest(' KVM ')).to.equal('kvm')
      expect(parseAcceleratorRequest('')).to.equal('auto')
      expect(parseAcceleratorRequest(undefined)).to.equal('auto')
      expect(parseAcceleratorRequest(null)).to.equal('auto')
    })

    it('rejects anything else as a usage error that lists the choices', () => {
      const e = thrown(() => parseAcceleratorRequest('xen'))
      expect(e.code).to.equal('DLITE_ACCEL_INVALID')
      expect(e.exitCode).to.equal(2)
      expect(e.message).to.include('"xen"').and.to.include('auto, kvm, hvf, tcg')
    })
  })

  describe('auto', () => {
    it('uses kvm on Linux when it is usable, with the probe reason', () => {
      const d = chooseAccelerator(kvmUsable)
      expect(d).to.include({accelerator: 'kvm', requested: 'auto', fallback: false})
      expect(d.reason).to.equal(`${KVM_OK}.`)
      expect(d.hardware).to.deep.equal({name: 'kvm', present: true, usable: true, reason: KVM_OK})
    })

    it('falls back to tcg when kvm is present but not usable, and says why', () => {
      const d = chooseAccelerator(kvmPresentUnusable, 'auto')
      expect(d).to.include({accelerator: 'tcg', fallback: true})
      expect(d.reason).to.equal(`${KVM_PVM}.`)
    })

    it('falls back to tcg when there is no /dev/kvm', () => {
      const d = chooseAccelerator(kvmAbsent)
      expect(d).to.include({accelerator: 'tcg', fallback: true})
      expect(d.reason).to.equal(`${NO_KVM}.`)
    })

    it('treats a Linux probe without kvm facts as kvm not available', () => {
      const d = chooseAccelerator(kvmNotProbed)
      expect(d).to.include({accelerator: 'tcg', fallback: true})
      expect(d.hardware).to.include({name: 'kvm', present: false, usable: false})
      expect(d.reason).to.include('kvm was not probed')
    })

    it('keeps a reason that is already a sentence as it is', () => {
      const d = chooseAccelerator(linux({present: true, usable: false, reason: 'Done already.'}))
      expect(d.reason).to.equal('Done already.')
    })

    it('uses hvf on macOS when kern.hv_support is 1', () => {
      const d = chooseAccelerator(hvfUsable)
      expect(d).to.include({accelerator: 'hvf', fallback: false})
      expect(d.reason).to.equal(HVF_OK + '.')
    })

    it('falls back to tcg on macOS without Hypervisor.framework', () => {
      const d = chooseAccelerator(hvfUnusable)
      expect(d).to.include({accelerator: 'tcg', fallback: true})
      expect(d.reason).to.equal(`${HVF_OFF}.`)
    })

    it('uses tcg on a platform with no known hardware accelerator, without calling it a fallback', () => {
      const d = chooseAccelerator(freebsd)
      expect(d).to.include({accelerator: 'tcg', fallback: false, hardware: null})
      expect(d.reason).to.equal('dlite knows no hardware accelerator for freebsd.')
    })
  })

  describe('tcg requested', () => {
    it('is always honoured, and points at kvm when kvm would work', () => {
      const d = chooseAccelerator(kvmUsable, 'tcg')
      expect(d).to.include({accelerator: 'tcg', requested: 'tcg', fallback: false})
      expect(d.reason).to.include('tcg (software emulation) was requested').and.to.include('kvm is usable')
    })

    it('adds no hint when the hardware accelerator is not usable', () => {
      const d = chooseAccelerator(kvmPresentUnusable, 'tcg')
      expect(d.reason).to.equal('tcg (software emulation) was requested.')
    })
  })

  describe('kvm or hvf requested', () => {
    it('uses kvm when it is usable', () => {
      expect(chooseAccelerator(kvmUsable, 'kvm')).to.include({accelerator: 'kvm', requested: 'kvm', fallback: false})
    })

    it('uses hvf when it is usable', () => {
      expect(chooseAccelerator(hvfUsable, 'hvf')).to.include({accelerator: 'hvf', requested: 'hvf'})
    })

    it('refuses kvm where it is present but unusable, naming why and the way out', () => {
      const e = thrown(() => chooseAccelerator(kvmPresentUnusable, 'kvm'))
      expect(e.code).to.equal('DLITE_ACCEL_UNAVAILABLE')
      expect(e.exitCode).to.equal(1)
      expect(e.message).to.include('kvm was requested but cannot be used').and.to.include(KVM_PVM)
      expect(e.message).to.include('--accel auto')
    })

    it('refuses kvm where there is no /dev/kvm', () => {
      const e = thrown(() => chooseAccelerator(kvmAbsent, 'kvm'))
      expect(e.code).to.equal('DLITE_ACCEL_UNAVAILABLE')
      expect(e.message).to.include(NO_KVM)
    })

    it('refuses hvf on a Mac without Hypervisor.framework', () => {
      const e = thrown(() => chooseAccelerator(hvfUnusable, 'hvf'))
      expect(e.code).to.equal('DLITE_ACCEL_UNAVAILABLE')
      expect(e.message).to.include(HVF_OFF)
    })

    it('refuses hvf on Linux and kvm on macOS as usage errors naming the right one', () => {
      const onLinux = thrown(() => chooseAccelerator(kvmUsable, 'hvf'))
      expect(onLinux.code).to.equal('DLITE_ACCEL_WRONG_PLATFORM')
      expect(onLinux.exitCode).to.equal(2)
      expect(onLinux.message).to.include('hvf is only available on macOS').and.to.include('--accel kvm, auto or tcg')
      const onMac = thrown(() => chooseAccelerator(hvfUsable, 'kvm'))
      expect(onMac.message).to.include('kvm is only available on Linux').and.to.include('--accel hvf, auto or tcg')
    })

    it('refuses a hardware accelerator on a platform that has none', () => {
      const e = thrown(() => chooseAccelerator(freebsd, 'kvm'))
      expect(e.code).to.equal('DLITE_ACCEL_WRONG_PLATFORM')
      expect(e.message).to.include('this host runs freebsd').and.to.include('--accel auto or tcg')
    })
  })
})

describe('accelerator for the OS image\'s architecture', () => {
  // an Apple-silicon and an Intel Mac, invented (macOS cannot run here)
  const appleSilicon: AcceleratorFacts = {...hvfUsable, arch: 'arm64'}
  const intelMac: AcceleratorFacts = {...hvfUsable, arch: 'x64'}

  it('uses hvf for an image of the host\'s own architecture, in any spelling', () => {
    expect(chooseAccelerator(appleSilicon, 'auto', 'aarch64')).to.include({accelerator: 'hvf', fallback: false})
    expect(chooseAccelerator(appleSilicon, 'auto', 'arm64')).to.include({accelerator: 'hvf', fallback: false})
    expect(chooseAccelerator(intelMac, 'auto', 'x86_64')).to.include({accelerator: 'hvf', fallback: false})
    expect(chooseAccelerator({...kvmUsable, arch: 'x64'}, 'auto', 'amd64')).to.include({accelerator: 'kvm'})
  })

  it('emulates an image for another architecture (tcg), saying why; asking for hvf then is refused', () => {
    const d = chooseAccelerator(intelMac, 'auto', 'aarch64')
    expect(d).to.include({accelerator: 'tcg', fallback: true})
    expect(d.reason).to.equal('hvf runs only guests of the host\'s own architecture (x86_64), and the OS image is for aarch64.')
    const e = thrown(() => chooseAccelerator(appleSilicon, 'hvf', 'x86_64'))
    expect(e.code).to.equal('DLITE_ACCEL_UNAVAILABLE')
    expect(e.message).to.include('the OS image is for x86_64').and.include('--accel auto')
  })

  it('without the host\'s or the image\'s architecture it decides as before', () => {
    expect(chooseAccelerator(hvfUsable, 'auto', 'x86_64')).to.include({accelerator: 'hvf'})
    expect(chooseAccelerator(appleSilicon)).to.include({accelerator: 'hvf'})
    expect(chooseAccelerator({...appleSilicon, arch: 'unknown'}, 'auto', 'x86_64')).to.include({accelerator: 'hvf'})
  })
})

describe('native addon loader (with a stand-in require)', () => {
  const fakeAddon = {probe: () => ({}), openTap: () => ({}), closeFd: () => undefined, flock: () => true}

  function notFound(id: string): Error {
    return Object.assign(new Error(`Cannot find module '${id}'`), {code: 'MODULE_NOT_FOUND'})
  }

  function loadError(fn: () => unknown): NativeAddonError {
    try {
      fn()
    } catch (error) {
      expect(error).to.be.instanceOf(NativeAddonError)
      return error as NativeAddonError
    }
    expect.fail('expected a NativeAddonError')
  }

  it('returns the addon when it loads', () => {
    expect(loadNative({require: () => fakeAddon})).to.equal(fakeAddon)
  })

  it('says the package is missing and names the fix', () => {
    const e = loadError(() => loadNative({require: (id) => { throw notFound(id) }}))
    expect(e.code).to.equal('DLITE_NATIVE_MISSING')
    expect(e.message).to.include('dlite-native is missing').and.to.include('npm rebuild dlite-native')
    expect(e.message).to.include('scripts/setup.sh')
    expect(e.fix).to.equal(NATIVE_FIX)
    expect(e.exitCode).to.equal(1)
  })

  it('says the addon was never built when the package loader reports DLITE_NATIVE_MISSING', () => {
    const e = loadError(() => loadNative({require: () => { throw Object.assign(new Error('not built'), {code: 'DLITE_NATIVE_MISSING'}) }}))
    expect(e.code).to.equal('DLITE_NATIVE_MISSING')
    expect(e.message).to.include('never built')
  })

  it('says the addon failed to load (e.g. built for another Node) and keeps the cause', () => {
    const cause = Object.assign(new Error('dlite-native failed to load from x.node: NODE_MODULE_VERSION 115. Rebuild it'), {
      code: 'DLITE_NATIVE_LOAD_FAILED',
    })
    const e = loadError(() => loadNative({require: () => { throw cause }}))
    expect(e.code).to.equal('DLITE_NATIVE_LOAD_FAILED')
    expect(e.message).to.include('NODE_MODULE_VERSION 115').and.to.include('npm rebuild dlite-native')
    expect(e.cause).to.equal(cause)
  })

  it('treats a missing dependency of the addon as a load failure, not a missing package', () => {
    const e = loadError(() => loadNative({require: () => { throw notFound('node-addon-api') }}))
    expect(e.code).to.equal('DLITE_NATIVE_LOAD_FAILED')
  })

  it('rejects a module that lacks the addon API', () => {
    const e = loadError(() => loadNative({require: () => ({probe: () => ({})})}))
    expect(e.code).to.equal('DLITE_NATIVE_LOAD_FAILED')
    expect(e.message).to.include('outdated build')
  })

  it('decideAccelerator reports a missing addon as tcg with addonError instead of throwing', async () => {
    const v = await decideAccelerator('auto', {require: (id) => { throw notFound(id) }})
    expect(v.accelerator).to.equal('tcg')
    expect(v.addonError).to.include('npm rebuild dlite-native')
    expect(v.probe).to.equal(undefined)
  })

  it('decideAccelerator decides from the probe, and reports an impossible request without throwing', async () => {
    const probe = {...kvmPresentUnusable, devices: {}}
    const addon = {...fakeAddon, probe: () => probe}
    const auto = await decideAccelerator('auto', {require: () => addon})
    expect(auto).to.include({accelerator: 'tcg'})
    expect(auto.decision?.fallback).to.equal(true)
    const kvm = await decideAccelerator('kvm', {require: () => addon})
    expect(kvm.accelerator).to.equal('tcg')
    expect(kvm.requestError).to.include('kvm was requested but cannot be used')
    const ok = await decideAccelerator('kvm', {require: () => ({...fakeAddon, probe: () => kvmUsable})})
    expect(ok).to.include({accelerator: 'kvm'})
    expect(ok.requestError).to.equal(undefined)
  })
})
