// Every install flag's bad values: exit 2, a message naming the flag and the fix, and nothing written. The
// same for the value-taking flags of the commands that act on an install: its files stay exactly as they were.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BUILT_OS_MANIFEST, dliteCli} from '../helpers/dlite-cli.js'

/** Raw control characters (newline and tab aside) in output: a bad value echoed back unescaped. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/
const FIX = /Fix|fix|Try this|See more help|Expected|"suggestions": \[\s*"/

/** An error as one string: oclif hard-wraps it at 80 columns behind " ›   ", which would split the phrases matched. */
const unwrap = (text: string) => text.replace(/\n › {3}/g, '')

/** Every entry under `path` (or the file itself): name, type, mode, size, mtime, and the content of small files. */
function treeDigest(path: string): string {
  const hash = createHash('sha256')
  const visit = (p: string, rel: string) => {
    let st
    try {
      st = lstatSync(p)
    } catch {
      hash.update(`${rel} missing\n`)
      return
    }
    hash.update(`${rel} ${st.mode} ${st.size} ${st.mtimeMs}\n`)
    if (st.isDirectory()) for (const name of readdirSync(p).sort()) visit(join(p, name), `${rel}/${name}`)
    // the sparse disk is tens of GiB of zeros: its size and mtime say enough
    else if (st.isFile() && st.size <= 1024 * 1024) hash.update(readFileSync(p))
  }
  visit(path, '.')
  return hash.digest('hex')
}

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
      '--os': BUILT_OS_MANIFEST, '--mount': dir, '--docker-socket': join(dir, 'run', 'docker.sock'), '--ssh-key': 'none',
    }
    const aliases: Record<string, string> = {'-S': '--mount', '-s': '--ssh-key'}
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
    ['share missing', ['-S', '/definitely/not/here'], /--mount/],
    ['share relative to nothing', ['-S', 'relative/dir/that/is/missing'], /--mount/],
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
    // numbers: signs, notations, padding, emptiness, fractions, absurd sizes
    ['cpus negative', ['--cpus=-1'], /--cpus.*not a whole number/s],
    ['cpus in exponent notation', ['-c', '1e9'], /--cpus.*not a whole number/s],
    ['cpus in hex', ['-c', '0x10'], /--cpus.*not a whole number/s],
    ['cpus with a leading space', ['-c', ' 2'], /--cpus.*whitespace.*--cpus 2/s],
    ['cpus empty', ['-c', ''], /--cpus.*empty.*leave --cpus out/s],
    ['cpus fractional', ['-c', '1.5'], /--cpus.*not a whole number/s],
    ['cpus without a value', ['--cpus'], /--cpus expects a value.*--cpus <value>/s],
    ['cpus given twice', ['-c', '1', '-c', '2'], /--cpus.*once.*give --cpus once/s],
    ['memory absurdly large', ['-m', '99999999999999'], /--memory.*outside 1\.\./s],
    ['memory negative', ['--memory=-2'], /--memory/],
    ['memory empty', ['-m', ''], /--memory.*empty/s],
    ['memory with a trailing newline', ['-m', '2\n'], /--memory.*control character "\\n"/s],
    ['disk above the maximum', ['-d', '70000'], /--disk.*at most 65536/s],
    ['disk fractional', ['-d', '8.5'], /--disk.*not a whole number/s],
    ['disk NaN', ['-d', 'NaN'], /--disk.*not a whole number/s],
    // names: emptiness, length, control characters
    ['hostname empty', ['-n', ''], /--hostname.*empty/s],
    ['hostname longer than 253', ['-n', Array(130).fill('ab').join('.')], /--hostname.*253/s],
    ['hostname with a trailing newline', ['-n', 'local.docker\n'], /--hostname.*control character "\\n"/s],
    ['hostname with a tab', ['-n', 'local\t.docker'], /--hostname.*control character "\\t"/s],
    ['hostname with an escape sequence', ['-n', '\x1b[31mred'], /--hostname.*control character "\\u001b"/s],
    ['hostname with DEL', ['-n', 'local.docker\x7f'], /--hostname.*control character "\\u007f"/s],
    // paths: files for directories and directories for files, emptiness, control characters, length
    ['share empty', ['-S', ''], /--mount.*empty/s],
    ['share that is a file', ['-S', '__NOTAKEY__'], /--mount.*not a directory/s],
    ['share with a trailing newline', ['-S', '__DIR__\n'], /--mount.*control character/s],
    ['share with a name too long', ['-S', `/tmp/${'x'.repeat(300)}`], /--mount/],
    ['ssh key empty', ['-s', ''], /--ssh-key.*empty.*--ssh-key none/s],
    ['ssh key that is a directory', ['-s', '__DIR__'], /--ssh-key.*not a file/s],
    ['ssh key with an escape', ['-s', '__DIR__/id\x1b.pub'], /--ssh-key.*control character/s],
    ['os manifest that is a directory', ['--os', '__DIR__'], /--os.*not a file/s],
    ['os manifest empty', ['--os', ''], /--os.*empty/s],
    ['os manifest over ftp', ['--os', 'ftp://example.test/manifest.json'], /--os.*unsupported URL scheme ftp:/s],
    ['os manifest over plain http', ['--os', 'http://releases.example/manifest.json'], /--os.*plain http:\/\/ can be changed by anyone on the way/s],
    ['os manifest URL broken', ['--os', 'http://exa mple/manifest.json'], /--os.*not a valid URL/s],
    ['docker socket that is a directory', ['--docker-socket', '__DIR__'], /--docker-socket.*not a socket/s],
    ['docker socket relative', ['--docker-socket', 'docker.sock'], /--docker-socket.*absolute/s],
    ['docker socket too long', ['--docker-socket', `/tmp/${'s'.repeat(120)}.sock`], /--docker-socket.*longer than a unix socket/s],
    ['docker socket empty', ['--docker-socket', ''], /--docker-socket.*empty/s],
    ['docker socket with a tab', ['--docker-socket', '__DIR__/d\t.sock'], /--docker-socket.*control character "\\t"/s],
    // extra dockerd args: emptiness and control characters (inside quotes or out)
    ['extra args empty', ['-e', ''], /--extra.*empty.*leave --extra out/s],
    ['extra args with a newline', ['-e', '--debug\n--log-level=info'], /--extra.*control character "\\n"/s],
    ['extra args with a quoted tab', ['-e', '--label "a\tb"'], /--extra.*control character "\\t"/s],
    ['extra args with an escape', ['-e', '--label a=\x1b[2J'], /--extra.*control character "\\u001b"/s],
    ['extra args with DEL', ['-e', '--label a=\x7f'], /--extra.*control character "\\u007f"/s],
    // subnet: emptiness, padding, notations
    ['subnet empty', ['--subnet', ''], /--subnet.*empty/s],
    ['subnet with a trailing newline', ['--subnet', '192.168.64.0/24\n'], /--subnet.*control character/s],
    ['subnet with a leading space', ['--subnet', ' 192.168.64.0/24'], /--subnet.*whitespace/s],
    ['subnet without a prefix', ['--subnet', '192.168.64.0'], /--subnet.*not an IPv4 CIDR/s],
    ['subnet in hex', ['--subnet', '0xc0.168.64.0/24'], /--subnet.*not an IPv4 CIDR/s],
    // choices and the command line itself
    ['accel empty', ['--accel', ''], /--accel/],
    ['accel in capitals', ['--accel', 'KVM'], /--accel/],
    ['accel with an escape', ['--accel', '\x1b[2J'], /--accel/],
    ['network empty', ['--network', ''], /--network/],
    ['an unknown flag', ['--cpu', '2'], /--cpu/],
    ['an unexpected argument', ['extra-word'], /extra-word/],
  ]

  for (const [name, flags, message] of cases) {
    it(`refuses ${name}`, async () => {
      const args = withDefaults(flags.map((f) => f.replace('__NOTAKEY__', join(dir, 'not-a-key.pub')).replace('__DIR__', dir)))
      const cli = dliteCli({DLITE_HOME: home})
      const result = await cli(['install', ...args])
      expect(result.code, result.stderr).to.equal(2)
      expect(unwrap(result.stderr)).to.match(message)
      expect(result.stderr).to.match(FIX)
      expect(result.stderr, 'a bad value echoed back raw').not.to.match(RAW_CONTROL)
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

  // DLITE_HOME is input too: install moves a new home over it, and the VM's sockets live in it.
  const homes: Array<[string, (base: string) => string, RegExp, string[]?]> = [
    ['DLITE_HOME that is a file', (base) => {
      writeFileSync(join(base, 'precious.txt'), 'keep me\n')
      return join(base, 'precious.txt')
    }, /DLITE_HOME.*not a directory/s],
    ['DLITE_HOME under a file', (base) => {
      writeFileSync(join(base, 'a-file'), 'x')
      return join(base, 'a-file', 'home')
    }, /DLITE_HOME.*a-file is not a directory/s],
    ['DLITE_HOME a directory of other files', (base) => {
      mkdirSync(join(base, 'mine'))
      writeFileSync(join(base, 'mine', 'notes.txt'), 'keep me\n')
      return join(base, 'mine')
    }, /DLITE_HOME.*no dlite install.*new or empty directory/s],
    ['DLITE_HOME a directory of other files, even with --force', (base) => {
      mkdirSync(join(base, 'mine'))
      writeFileSync(join(base, 'mine', 'notes.txt'), 'keep me\n')
      return join(base, 'mine')
    }, /DLITE_HOME.*no dlite install/s, ['--force']],
    ['DLITE_HOME too long for its sockets', (base) => join(base, 'h'.repeat(90)), /DLITE_HOME.*unix socket.*at most \d+ bytes/s],
    ['DLITE_HOME with a name too long for the file system', (base) => join(base, 'y'.repeat(300)), /DLITE_HOME.*too long/s],
  ]

  for (const [name, setup, message, extra = []] of homes) {
    it(`refuses ${name}`, async () => {
      const base = join(dir, `base-${n}`)
      mkdirSync(base)
      const target = setup(base)
      const before = treeDigest(base)
      const result = await dliteCli({DLITE_HOME: target})(['install', ...withDefaults(extra)])
      expect(result.code, result.stderr).to.equal(2)
      expect(unwrap(result.stderr)).to.match(message)
      expect(result.stderr).to.match(FIX)
      expect(treeDigest(base), 'nothing written, nothing replaced').to.equal(before)
    })
  }

  it('refuses a manifest that is not a dlite image before writing anything', async () => {
    const cli = dliteCli({DLITE_HOME: home})
    const result = await cli(['install', ...withDefaults(['--os', join(dir, 'bad-manifest.json')])])
    expect(result.code).to.be.oneOf([1, 2])
    expect(existsSync(home)).to.equal(false)
  })
})

describe('commands on an install: bad input', function () {
  this.timeout(60_000)
  let dir: string
  let home: string
  // A regression that accepted a value must fail here, not boot a VM: no qemu (nor anything else) on PATH.
  const cli = () => dliteCli({DLITE_HOME: home, PATH: join(dir, 'empty-path')})

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-badinput-cmd-'))
    home = join(dir, 'home')
    mkdirSync(join(dir, 'empty-path'))
    mkdirSync(join(dir, 'share'))
    const result = await dliteCli({DLITE_HOME: home})(['install', '--yes', '--os', BUILT_OS_MANIFEST, '--disk', '8', '--share', join(dir, 'share'),
      '--docker-socket', join(dir, 'run', 'docker.sock'), '--ssh-key', 'none'])
    expect(result.code, result.stderr).to.equal(0)
  })
  after(() => rmSync(dir, {recursive: true, force: true}))

  const cases: Array<[string, string[], RegExp]> = [
    ['install --force with an out-of-range value', ['install', '--yes', '--force', '-c', '0'], /--cpus/],
    ['install --force with an empty value', ['install', '--yes', '--force', '-n', ''], /--hostname.*empty/s],
    ['install again without --force', ['install', '--yes'], /already installed.*--force/s],
    ['start --timeout 0', ['start', '--timeout', '0'], /--timeout.*greater than or equal to 5/s],
    ['start --timeout negative', ['start', '--timeout=-5'], /--timeout/],
    ['start --timeout in exponent notation', ['start', '--timeout', '1e9'], /--timeout.*integer/s],
    ['start --timeout with a leading space', ['start', '--timeout', ' 30'], /--timeout.*integer/s],
    ['start --timeout empty', ['start', '--timeout', ''], /--timeout.*integer/s],
    ['start --timeout fractional', ['start', '--timeout', '30.5'], /--timeout.*integer/s],
    ['start --timeout above a day', ['start', '--timeout', '86401'], /--timeout.*less than or equal to 86400/s],
    ['stop --timeout 0', ['stop', '--timeout', '0'], /--timeout.*greater than or equal to 1/s],
    ['stop --timeout absurdly large', ['stop', '--timeout', '99999999999999999999'], /--timeout.*less than or equal to 86400/s],
    ['stop --timeout in hex', ['stop', '--timeout', '0x10'], /--timeout.*integer/s],
    ['stop --timeout without a value', ['stop', '--timeout'], /--timeout expects a value/],
    ['logs --lines 0', ['logs', '-n', '0'], /--lines/],
    ['logs --lines not a number', ['logs', '--lines', 'all'], /--lines.*integer/s],
    ['logs --lines absurdly large', ['logs', '-n', '99999999999999999999999'], /--lines.*less than or equal to/s],
    ['logs --previous without --console', ['logs', '--previous'], /--previous.*--console/s],
    ['logs --follow with --json', ['logs', '--follow', '--json'], /--follow.*--json/s],
    ['update --os missing', ['update', '--os', '/nope/manifest.json'], /--os.*does not exist/s],
    ['update --os a directory', ['update', '--os', '__DIR__'], /--os.*not a file/s],
    ['update --os empty', ['update', '--os', ''], /--os.*empty/s],
    ['update --os over ftp', ['update', '--os', 'ftp://example.test/manifest.json'], /--os.*unsupported URL scheme ftp:/s],
    ['update --os with a trailing newline', ['update', '--os', `${BUILT_OS_MANIFEST}\n`], /--os.*control character/s],
    ['update --os with --rollback', ['update', '--os', BUILT_OS_MANIFEST, '--rollback'], /--os.*--rollback/s],
    ['update --timeout below 10', ['update', '--timeout', '9'], /--timeout.*greater than or equal to 10/s],
    ['update --timeout above a day', ['update', '--timeout', '86401'], /--timeout.*less than or equal to 86400/s],
    ['daemon --boot-timeout above a day', ['daemon', '--boot-timeout', '86401'], /--boot-timeout/],
    ['uninstall --purge without --yes', ['uninstall', '--purge'], /--purge.*--yes/s],
    ['ssh --json without a command', ['ssh', '--json'], /--json needs a command/],
    ['stop with an unknown flag', ['stop', '--force'], /--force/],
    ['start with a flag of install', ['start', '--cpus', '2'], /Nonexistent flag: --cpus/],
  ]

  for (const [name, args, message] of cases) {
    it(`refuses ${name}`, async () => {
      const before = treeDigest(home)
      const result = await cli()(args.map((a) => a.replace('__DIR__', dir)), {timeoutMs: 30_000})
      // with --json the error is the one JSON document on stdout
      const output = `${result.stderr}${result.stdout}`
      expect(result.code, output).to.equal(2)
      expect(unwrap(output)).to.match(message)
      expect(output).to.match(FIX)
      expect(output, 'a bad value echoed back raw').not.to.match(RAW_CONTROL)
      expect(treeDigest(home), 'the install is unchanged').to.equal(before)
    })
  }
})
