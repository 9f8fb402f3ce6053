import {expect} from 'chai'
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  authorizedKeysText,
  ensureClientKey,
  ensureHostKey,
  keyPaths,
  knownHostsText,
  sshClientArgs,
  writeKnownHosts,
} from '../../src/keys/index.js'

const mode = (path: string) => statSync(path).mode & 0o777

// These run the real ssh-keygen (and `ssh -G`, which only prints the resolved config and connects nowhere).
describe('ssh keys', () => {
  let dir: string
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'dlite-keys-')), 'keys')
  })
  afterEach(() => rmSync(join(dir, '..'), {recursive: true, force: true}))

  it('creates dlite\'s client key pair: ed25519, 0600 private key, 0700 directory', async () => {
    const pair = await ensureClientKey(dir, {comment: 'dlite@test'})
    const paths = keyPaths(dir)
    expect(pair).to.deep.include({privateKey: paths.clientKey, publicKey: paths.clientPublicKey, created: true})
    expect(pair.publicKeyText).to.match(/^ssh-ed25519 AAAA\S+ dlite@test$/)
    expect(mode(paths.clientKey)).to.equal(0o600)
    expect(mode(dir)).to.equal(0o700)
    // The private key really belongs to the public key, and has no passphrase.
    const derived = execFileSync('ssh-keygen', ['-y', '-P', '', '-f', paths.clientKey], {encoding: 'utf8'}).trim()
    expect(pair.publicKeyText.startsWith(derived)).to.equal(true)
    expect(readdirSync(dir).sort()).to.deep.equal(['id_ed25519', 'id_ed25519.pub'])
  })

  it('keeps an existing valid pair, regenerates on request or when half of it is missing', async () => {
    const first = await ensureClientKey(dir)
    const again = await ensureClientKey(dir)
    expect(again.created).to.equal(false)
    expect(again.publicKeyText).to.equal(first.publicKeyText)
    const forced = await ensureClientKey(dir, {overwrite: true})
    expect(forced.publicKeyText).to.not.equal(first.publicKeyText)
    rmSync(keyPaths(dir).clientPublicKey)
    const repaired = await ensureClientKey(dir)
    expect(repaired.created).to.equal(true)
    expect(repaired.publicKeyText).to.not.equal(forced.publicKeyText)
  })

  it('a failing ssh-keygen leaves no key behind and says why (fake runner)', async () => {
    const failing = async () => ({code: 127, stdout: '', stderr: 'spawn ssh-keygen ENOENT'})
    await ensureHostKey(dir, {runner: failing}).then(() => expect.fail('created'), (error: Error) => {
      expect(error.message).to.match(/ssh-keygen failed \(exit 127\): install OpenSSH/)
    })
    expect(readdirSync(dir)).to.deep.equal([])
  })

  it('generates the guest host key on the host and pins it for the ip, [ip]:22 and the hostname', async () => {
    const host = await ensureHostKey(dir)
    expect(mode(keyPaths(dir).hostKey)).to.equal(0o600)
    const knownHosts = keyPaths(dir).knownHosts
    await writeKnownHosts(knownHosts, {ip: '192.168.64.2', hostname: 'local.docker', hostPublicKey: host.publicKeyText})
    const [, keyBody] = host.publicKeyText.split(' ')
    // dlite-vm: the alias ssh looks the key up by when the guest's sshd is a forwarded port (user mode)
    for (const name of ['192.168.64.2', 'local.docker', '[192.168.64.2]:22', 'dlite-vm']) {
      const found = execFileSync('ssh-keygen', ['-F', name, '-f', knownHosts], {encoding: 'utf8'})
      expect(found, name).to.contain(keyBody)
    }
    const other = spawnSync('ssh-keygen', ['-F', '192.168.64.3', '-f', knownHosts])
    expect(other.status).to.equal(1)
    expect(readFileSync(knownHosts, 'utf8')).to.not.contain('dlite-guest') // comment dropped
  })

  it('pins bracketed names for another port', async () => {
    const host = await ensureHostKey(dir)
    const knownHosts = keyPaths(dir).knownHosts
    await writeKnownHosts(knownHosts, {ip: '127.0.0.1', hostname: 'local.docker', port: 2222, hostPublicKey: host.publicKeyText})
    expect(execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', knownHosts], {encoding: 'utf8'})).to.contain('ssh-ed25519')
    expect(spawnSync('ssh-keygen', ['-F', '127.0.0.1', '-f', knownHosts]).status).to.equal(1)
  })

  it('refuses known_hosts input that is not an address, a hostname or an ed25519 key', () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVw7n3DQ1CxvnR7qV3f6Mbc7PvA8QbmD1mX8e2pGk9F'
    expect(() => knownHostsText({ip: 'x', hostname: 'a', hostPublicKey: key})).to.throw(/IPv4/)
    expect(() => knownHostsText({ip: '10.0.0.2', hostname: 'a,b', hostPublicKey: key})).to.throw(/hostname/)
    expect(() => knownHostsText({ip: '10.0.0.2', hostname: 'a', hostPublicKey: 'ssh-rsa AAAA'})).to.throw(/ed25519/)
    expect(() => knownHostsText({ip: '10.0.0.2', hostname: 'a', port: 0, hostPublicKey: key})).to.throw(/port/)
  })

  it('builds authorized_keys from dlite\'s key and the user\'s, once each', () => {
    const a = 'ssh-ed25519 AAAAa dlite'
    const b = 'ssh-rsa AAAAb user@host'
    expect(authorizedKeysText([a, `# comment\n${b}\n\n`, null, a])).to.equal(`${a}\n${b}\n`)
  })

  it('gives ssh options the installed ssh accepts: our key only, pinned host key, strict checking', async () => {
    await ensureClientKey(dir)
    const paths = keyPaths(dir)
    writeFileSync(join(dir, '..', 'empty'), '')
    const args = sshClientArgs(paths, {ip: '192.168.64.2'})
    const config = execFileSync('ssh', ['-F', join(dir, '..', 'empty'), '-G', ...args], {encoding: 'utf8'})
    expect(config).to.contain('user docker\n').and.contain('hostname 192.168.64.2\n').and.contain('port 22\n')
    expect(config).to.contain('stricthostkeychecking true\n').and.contain('identitiesonly yes\n').and.contain('passwordauthentication no\n')
    expect(config).to.contain(`userknownhostsfile ${paths.knownHosts}\n`).and.contain(`identityfile ${paths.clientKey}\n`)
    expect(config).to.not.contain('hostkeyalias')
  })

  it('looks the pinned key up by its alias when sshd is a forwarded port', async () => {
    await ensureClientKey(dir)
    writeFileSync(join(dir, '..', 'empty'), '')
    const args = sshClientArgs(keyPaths(dir), {ip: '127.0.0.1', port: 40022})
    const config = execFileSync('ssh', ['-F', join(dir, '..', 'empty'), '-G', ...args], {encoding: 'utf8'})
    expect(config).to.contain('hostname 127.0.0.1\n').and.contain('port 40022\n').and.contain('hostkeyalias dlite-vm\n')
  })
})
