// Every install flag's bad values: exit 2, a message naming the flag and the fix, and nothing written.
import {expect} from 'chai'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, dliteCli} from '../helpers/dlite-cli.js'

describe('dlite install: bad input', function () {
  this.timeout(60_000)
  let dir: string
  let home: string
  let n = 0

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-badinput-'))
    writeFileSync(join(dir, 'not-a-key.pub'), 'this is not a public key\n')
    writeFileSync(join(dir, 'bad-manifest.json'), '{"version": 1}')
  })
  after(() => rmSync(dir, {recursive: true, force: true}))
  beforeEach(() => {
    home = join(dir, `home-${n++}`)
  })

  // Valid values for the flags a case does not override.
  const withDefaults = (flags: string[]) => {
    const base: Record<string, string> = {
      '--os': BUILT_OS_MANIFEST, '--share': dir, '--docker-socket': join(dir, 'run', 'docker.sock'), '--ssh-key': 'none',
    }
    const aliases: Record<string, string> = {'-S': '--share', '-s': '--ssh-key'}
    for (let i = 0; i < flags.length; i += 2) delete base[aliases[flags[i]] ?? flags[i]]
    return ['--yes', ...Object.entries(base).flat(), ...flags]
  }

  const cases: Array<[string, string[], RegExp]> = [
    ['cpus not a number', ['--cpus', 'two'], /--cpus/],
    ['cpus zero', ['-c', '0'], /--cpus/],
    ['cpus above the host', ['-c', '4096'], /--cpus/],
    ['memory zero', ['-m', '0'], /--memory/],
    ['memory above the host', ['-m', '100000'], /--memory/],
    ['disk below 8 GiB', ['-d', '4'], /--disk.*at least 8/s],
    ['hostname with an underscore', ['-n', 'bad_name'], /--hostname.*RFC 1123/s],
    ['hostname too long', ['-n', `${'a'.repeat(64)}.docker`], /--hostname/],
    ['share missing', ['-S', '/definitely/not/here'], /--share/],
    ['share relative to nothing', ['-S', 'relative/dir/that/is/missing'], /--share/],
    ['ssh key missing', ['-s', '/nope/id.pub'], /--ssh-key/],
    ['ssh key not a key', ['-s', '__NOTAKEY__'], /--ssh-key/],
    ['extra args with plain TCP', ['-e', '-H tcp://0.0.0.0:2375'], /--extra.*(TCP|tcp)/s],
    ['extra args unbalanced quote', ['-e', '--label "x'], /--extra/],
    ['os manifest missing', ['--os', '/nope/manifest.json'], /--os/],
    ['subnet public', ['--subnet', '8.8.8.0/24'], /--subnet.*private/s],
    ['subnet too large', ['--subnet', '10.0.0.0/8'], /--subnet/],
    ['subnet too small', ['--subnet', '192.168.64.0/30'], /--subnet/],
    ['subnet not aligned', ['--subnet', '192.168.64.5/24'], /--subnet/],
    ['docker socket under a file', ['--docker-socket', '__NOTAKEY__/docker.sock'], /--docker-socket/],
    ['accel unknown', ['--accel', 'warp'], /accel/],
    ['network unknown', ['--network', 'wifi'], /network/],
  ]

  for (const [name, flags, message] of cases) {
    it(`refuses ${name}`, async () => {
      const args = withDefaults(flags.map((f) => f.replace('__NOTAKEY__', join(dir, 'not-a-key.pub'))))
      const cli = dliteCli({DLITE_HOME: home})
      const result = await cli(['install', ...args])
      expect(result.code, result.stderr).to.equal(2)
      expect(result.stderr).to.match(message)
      expect(result.stderr).to.match(/Fix|fix|Try this|See more help|Expected/)
      expect(existsSync(home), 'nothing written').to.equal(false)
    })
  }

  it('reports every bad flag at once, as one JSON document with --json', async () => {
    const cli = dliteCli({DLITE_HOME: home})
    const {code, body} = await cli.json<{error: {message: string}}>(['install', ...withDefaults(['-c', '0', '-d', '1', '-n', '-x-'])])
    expect(code).to.equal(2)
    expect(body.error.message).to.match(/--cpus[\s\S]*--disk[\s\S]*--hostname/)
    expect(existsSync(home)).to.equal(false)
  })

  it('refuses a manifest that is not a dlite image before writing anything', async () => {
    const cli = dliteCli({DLITE_HOME: home})
    const result = await cli(['install', ...withDefaults(['--os', join(dir, 'bad-manifest.json')])])
    expect(result.code).to.be.oneOf([1, 2])
    expect(existsSync(home)).to.equal(false)
  })
})
