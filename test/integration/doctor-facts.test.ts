// `dlite doctor --facts FILE` from the built CLI: a Mac's recorded facts judged here on Linux, this host's own
// report saved and judged again, and files that are not facts refused with exit 2.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {dliteCli, REPO} from '../helpers/dlite-cli.js'

interface Check {id: string; status: 'ok' | 'warn' | 'fail'; detail: string; fix?: string; required: boolean}
interface Report {ok: boolean; accelerator: string; checks: Check[]; facts: Record<string, unknown>}

const FIXTURES = join(REPO, 'test', 'fixtures', 'doctor')
const APPLE_SILICON = join(FIXTURES, 'macos-apple-silicon.json')
const NO_SOCKET_VMNET = join(FIXTURES, 'macos-no-socket-vmnet.json')
const MAC_VM = join(FIXTURES, 'macos-vm-no-hvf.json')

const byId = (report: Report, id: string): Check => {
  const check = report.checks.find((c) => c.id === id)
  expect(check, `no ${id} check in ${report.checks.map((c) => c.id).join(', ')}`).to.not.equal(undefined)
  return check!
}

describe('doctor --facts', function () {
  this.timeout(60_000)
  let dir: string
  let cli: ReturnType<typeof dliteCli>

  // a home of its own: doctor reads the home's config, and nothing here may see another test's VM. oclif wraps
  // error messages to 80 columns off a terminal, which would split the paths asserted on below.
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-doctor-facts-'))
    cli = dliteCli({DLITE_HOME: join(dir, 'home'), OCLIF_COLUMNS: '1000'})
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('judges a healthy Apple silicon Mac: hvf, Homebrew\'s QEMU and a running socket_vmnet', async () => {
    const {code, body, stderr} = await cli.json<Report>(['doctor', '--facts', APPLE_SILICON])
    expect(code, stderr).to.equal(0)
    expect(body.ok).to.equal(true)
    expect(body.accelerator).to.equal('hvf')
    expect(byId(body, 'accelerator')).to.include({status: 'ok'})
    expect(byId(body, 'accelerator').detail).to.match(/^hvf: Hypervisor\.framework is supported/)
    expect(byId(body, 'qemu')).to.include({status: 'ok', detail: '/opt/homebrew/bin/qemu-system-aarch64 10.1.2'})
    expect(byId(body, 'socket_vmnet')).to.include({status: 'ok'})
    expect(byId(body, 'socket_vmnet').detail).to.contain('/opt/homebrew/var/run/socket_vmnet')
    expect(byId(body, 'network').detail).to.contain('not needed on macOS')
    // the facts judged are the file's, not this host's
    expect(body.facts).to.deep.equal(JSON.parse(readFileSync(APPLE_SILICON, 'utf8')))
  })

  it('judges a Mac without socket_vmnet and with a QEMU too old for hvf: every fix names brew', async () => {
    const {code, body, stderr} = await cli.json<Report>(['doctor', '--facts', NO_SOCKET_VMNET])
    expect(code, stderr).to.equal(1)
    expect(body.ok).to.equal(false)
    expect(body.accelerator).to.equal('hvf')
    const qemu = byId(body, 'qemu')
    expect(qemu).to.include({status: 'fail'})
    expect(qemu.detail).to.contain('8.2.0').and.contain('>= 8.2.1 for hvf on Apple silicon')
    expect(qemu.fix).to.contain('brew upgrade qemu')
    const vmnet = byId(body, 'socket_vmnet')
    expect(vmnet).to.include({status: 'fail', required: true})
    expect(vmnet.fix).to.contain('brew install socket_vmnet').and.contain('brew services start socket_vmnet')
    expect(byId(body, 'docker').fix).to.equal('install the docker CLI: brew install docker')
    const apt = body.checks.filter((c) => c.fix?.includes('apt-get'))
    expect(apt.map((c) => c.id), 'a Mac is never told to apt-get').to.deep.equal([])
  })

  it('judges a macOS VM without hvf: tcg is a warning that says why, user networking needs no socket_vmnet', async () => {
    const {code, body, stderr} = await cli.json<Report>(['doctor', '--facts', MAC_VM])
    expect(code, stderr).to.equal(0)
    expect(body).to.include({ok: true, accelerator: 'tcg'})
    const accelerator = byId(body, 'accelerator')
    expect(accelerator).to.include({status: 'warn'})
    expect(accelerator.detail).to.contain('kern.hv_support = 0')
    expect(accelerator.fix).to.contain('on the Mac itself').and.contain('nested virtualization')
    expect(byId(body, 'socket_vmnet')).to.include({status: 'ok', required: false})
    expect(byId(body, 'qemu')).to.include({status: 'ok'})
  })

  it('prints the judgement as a table that says whose facts they are', async () => {
    const {code, stdout} = await cli(['doctor', '--facts', NO_SOCKET_VMNET])
    expect(code).to.equal(1)
    expect(stdout).to.contain(`Judging the facts in ${NO_SOCKET_VMNET}, recorded on darwin, not this host.`)
    expect(stdout).to.match(/^STATUS\s+CHECK\s+DETAIL/m)
    expect(stdout).to.match(/FAIL\s+socket_vmnet/)
    expect(stdout).to.contain('socket_vmnet: brew install socket_vmnet')
    expect(stdout).to.contain('Not ready')
  })

  it('this host\'s doctor --json carries its facts; saved, they are judged the same again', async () => {
    const live = await cli.json<Report>(['doctor'])
    expect(live.body.facts).to.include({platform: process.platform, home: join(dir, 'home')})
    const saved = join(dir, 'report.json')
    writeFileSync(saved, JSON.stringify(live.body))
    const again = await cli.json<Report>(['doctor', '--facts', saved])
    expect(again.code, again.stderr).to.equal(live.code)
    expect(again.body.checks).to.deep.equal(live.body.checks)
    // the facts member alone is taken too
    writeFileSync(saved, JSON.stringify(live.body.facts))
    expect((await cli.json<Report>(['doctor', '--facts', saved])).body.checks).to.deep.equal(live.body.checks)
  })

  it('a file that is not JSON exits 2 and says so', async () => {
    const bad = join(dir, 'truncated.json')
    writeFileSync(bad, '{"platform": "darwin", "network": ')
    const {code, stdout, stderr} = await cli(['doctor', '--facts', bad])
    expect(code).to.equal(2)
    expect(stdout).to.equal('')
    expect(stderr).to.contain(`the facts file ${bad} is not JSON`)
    expect(stderr).to.contain('dlite doctor --json')
  })

  it('facts with missing or wrong fields exit 2 naming each one, also as one JSON document', async () => {
    const facts = JSON.parse(readFileSync(APPLE_SILICON, 'utf8'))
    delete facts.qemu
    facts.network = 'vmnet'
    const bad = join(dir, 'facts.json')
    writeFileSync(bad, JSON.stringify(facts))
    const text = await cli(['doctor', '--facts', bad])
    expect(text.code).to.equal(2)
    expect(text.stderr).to.contain('is not dlite host facts').and.contain('qemu: missing').and.contain('network: must be "user" or "bridged"')
    const json = await cli(['doctor', '--json', '--facts', bad])
    expect(json.code).to.equal(2)
    const body = JSON.parse(json.stdout)
    expect(body.error.message).to.contain('qemu: missing')
    expect(body.error.suggestions[0]).to.contain('dlite doctor --json')
  })

  it('a facts file that does not exist exits 2 naming the path', async () => {
    const {code, stderr} = await cli(['doctor', '--facts', join(dir, 'nope.json')])
    expect(code).to.equal(2)
    expect(stderr).to.contain(`cannot read the facts file ${join(dir, 'nope.json')}: no such file`)
  })
})
