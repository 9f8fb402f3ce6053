// The guest script runs here under /bin/sh against a small stateful stand-in for iptables (chains as files)
// and `ip`, since the real ones belong to the guest; the e2e test runs it in the real guest.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GUEST_CHAIN, GUEST_SCRIPT, guestRuleArgv, parseApplyOutput} from '../src/guest-rules.js'

const FAKE_IPTABLES = `#!/bin/sh
# chains are files under $STATE, one rule per line
echo "iptables $*" >> "$STATE/calls"
[ "$1" = -w ] && shift 2
[ "$1" = -n ] && shift
op=$1 chain=$2; shift 2
f="$STATE/chain.$chain"
case $op in
  -N) [ -e "$f" ] && exit 1; : > "$f" ;;
  -F) [ -e "$f" ] || exit 1; : > "$f" ;;
  -X) [ -e "$f" ] || exit 1; rm "$f" ;;
  -L) [ -e "$f" ] ;;
  -A) [ -e "$f" ] || exit 1; echo "$*" >> "$f" ;;
  -I) [ -e "$f" ] || exit 1; shift; { echo "$*"; cat "$f"; } > "$f.new"; mv "$f.new" "$f" ;;
  -C) [ -e "$f" ] && grep -qxF -- "$*" "$f" ;;
  -D) [ -e "$f" ] && grep -qxF -- "$*" "$f" || exit 1
      awk -v r="$*" 'done || $0 != r { print; next } { done = 1 }' "$f" > "$f.new"; mv "$f.new" "$f" ;;
  *) echo "fake iptables: $op" >&2; exit 2 ;;
esac
`

const FAKE_IP = `#!/bin/sh
[ "$*" = "-o -4 addr show to 192.168.64.2/32" ] && echo '2: eth0    inet 192.168.64.2/24 brd 192.168.64.255 scope global eth0\\       valid_lft forever preferred_lft forever'
exit 0
`

describe('guest forwarding rule (script)', () => {
  let dir: string
  let state: string

  const runScript = (action: string, ip = '192.168.64.2') => {
    const argv = guestRuleArgv(action as 'apply', {ip, subnet: '192.168.64.0/24'})
    expect(argv.slice(0, 2)).to.deep.equal(['/bin/sh', '-c'])
    const script = argv[2].replace(/^PATH=.*$/m, `PATH=${join(dir, 'bin')}:/usr/bin:/bin`)
    try {
      return {code: 0, stdout: execFileSync('/bin/sh', ['-c', script, ...argv.slice(3)], {env: {STATE: state}, encoding: 'utf8', stdio: 'pipe'})}
    } catch (error) {
      const e = error as {status: number; stdout: string; stderr: string}
      return {code: e.status, stdout: e.stdout, stderr: e.stderr}
    }
  }
  const chain = (name: string) => (existsSync(join(state, `chain.${name}`)) ? readFileSync(join(state, `chain.${name}`), 'utf8').split('\n').filter(Boolean) : undefined)

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dlite-routing-guest-'))
    state = join(dir, 'state')
    mkdirSync(join(dir, 'bin'))
    mkdirSync(state)
    for (const [name, text] of [['iptables', FAKE_IPTABLES], ['ip', FAKE_IP]]) {
      writeFileSync(join(dir, 'bin', name), text)
      chmodSync(join(dir, 'bin', name), 0o755)
    }
    // what docker 26 leaves in the guest's filter table
    writeFileSync(join(state, 'chain.FORWARD'), '-j DOCKER-USER\n-j DOCKER-ISOLATION-STAGE-1\n')
    writeFileSync(join(state, 'chain.DOCKER-USER'), '-j RETURN\n')
  })

  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('is valid sh and takes the VM facts as arguments, never spliced into its text', () => {
    execFileSync('/bin/sh', ['-n', '-c', GUEST_SCRIPT])
    const argv = guestRuleArgv('apply', {ip: '192.168.64.2', subnet: '192.168.64.0/24'})
    expect(argv.slice(3)).to.deep.equal(['dlite-routing', 'apply', '192.168.64.2', '192.168.64.0/24'])
    expect(argv[2]).not.to.contain('192.168.64')
  })

  it('apply: one ACCEPT for traffic from the VM subnet arriving on the NIC, jumped to first from DOCKER-USER', () => {
    const result = runScript('apply')
    expect(result.code).to.equal(0)
    expect(parseApplyOutput(result.stdout)).to.deep.equal({parent: 'DOCKER-USER', nic: 'eth0'})
    expect(chain(GUEST_CHAIN)).to.deep.equal(['-i eth0 -s 192.168.64.0/24 -j ACCEPT'])
    expect(chain('DOCKER-USER')).to.deep.equal([`-j ${GUEST_CHAIN}`, '-j RETURN'])
    expect(chain('FORWARD')).to.deep.equal(['-j DOCKER-USER', '-j DOCKER-ISOLATION-STAGE-1'])
  })

  it('apply is idempotent: twice leaves one rule and one jump', () => {
    runScript('apply')
    expect(runScript('apply').code).to.equal(0)
    expect(chain(GUEST_CHAIN)).to.deep.equal(['-i eth0 -s 192.168.64.0/24 -j ACCEPT'])
    expect(chain('DOCKER-USER')).to.deep.equal([`-j ${GUEST_CHAIN}`, '-j RETURN'])
  })

  it('without DOCKER-USER (dockerd --iptables=false) the jump goes into FORWARD', () => {
    rmSync(join(state, 'chain.DOCKER-USER'))
    const result = runScript('apply')
    expect(parseApplyOutput(result.stdout).parent).to.equal('FORWARD')
    expect(chain('FORWARD')?.[0]).to.equal(`-j ${GUEST_CHAIN}`)
  })

  it('check says present after apply and absent after remove; remove leaves docker\'s rules as they were', () => {
    expect(runScript('check').stdout.trim()).to.equal('absent')
    runScript('apply')
    expect(runScript('check').stdout.trim()).to.equal('present')
    expect(runScript('remove').code).to.equal(0)
    expect(runScript('check').stdout.trim()).to.equal('absent')
    expect(chain(GUEST_CHAIN)).to.equal(undefined)
    expect(chain('DOCKER-USER')).to.deep.equal(['-j RETURN'])
    expect(chain('FORWARD')).to.deep.equal(['-j DOCKER-USER', '-j DOCKER-ISOLATION-STAGE-1'])
    expect(runScript('remove').code, 'remove twice').to.equal(0)
  })

  it('fails clearly when no guest interface holds the VM address', () => {
    const result = runScript('apply', '10.9.9.9')
    expect(result.code).to.equal(3)
    expect(result.stderr).to.contain('no interface in the guest holds 10.9.9.9')
    expect(chain(GUEST_CHAIN)).to.equal(undefined)
  })

  it('parseApplyOutput rejects an answer it does not understand', () => {
    expect(() => parseApplyOutput('')).to.throw(/unexpected answer/)
    expect(parseApplyOutput('noise\nFORWARD eth1\n')).to.deep.equal({parent: 'FORWARD', nic: 'eth1'})
  })
})
