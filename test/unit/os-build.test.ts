// `dlite os build`'s own logic (src/image/os-build.ts): who may build, the sudo command it suggests, and the
// delivery of a staged image into the output directory. The builder itself (os/build.js) is not run here.
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {buildRefusal, deliverImage, makeStagingDir, openStagingToUser, sudoCommand} from '../../src/image/os-build.js'

const sha = (text: string) => createHash('sha256').update(text).digest('hex')

/** A small image in the builder's shape, staged in `dir`. */
function stageImage(dir: string, version = '1.0.0', contents: Record<string, string> = {}): void {
  mkdirSync(dir, {recursive: true})
  const files = ['vmlinuz', 'initrd.img', 'root.img'].map((name) => {
    const data = contents[name] ?? `${name} of ${version}\n`
    writeFileSync(join(dir, name), data)
    return {name, size: Buffer.byteLength(data), sha256: sha(data)}
  })
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({schema: 1, version, arch: 'x86_64', kernel: {version: '6.12'}, docker: {version: '26.1'}, files}))
}

describe('dlite os build', () => {
  describe('who may build', () => {
    const sudo = () => 'sudo dlite os build'
    it('refuses outside Linux, naming why and --os', () => {
      const refusal = buildRefusal({platform: 'darwin', uid: 501}, sudo)
      expect(refusal?.message).to.match(/only on Linux.*darwin/)
      expect(refusal?.fix).to.include('--os')
    })
    it('refuses a non-root user with the exact sudo command', () => {
      expect(buildRefusal({platform: 'linux', uid: 1000}, sudo)?.fix).to.include('run: sudo dlite os build')
    })
    it('lets root build', () => {
      expect(buildRefusal({platform: 'linux', uid: 0}, sudo)).to.equal(undefined)
    })
  })

  describe('the sudo command', () => {
    const links: Record<string, string> = {
      '/usr/bin/node': '/usr/bin/node', '/usr/local/bin/dlite': '/usr/lib/node_modules/dlite/bin/run.js',
      '/usr/lib/node_modules/dlite/bin/run.js': '/usr/lib/node_modules/dlite/bin/run.js', '/home/ann/.nvm/bin/node': '/home/ann/.nvm/bin/node',
      '/home/ann/src/dlite/bin/run.js': '/home/ann/src/dlite/bin/run.js',
    }
    const realpath = (path: string) => links[path]
    it('is `sudo dlite …` when sudo finds this very dlite and node', () => {
      expect(sudoCommand(['os', 'build'], {execPath: '/usr/bin/node', entry: '/usr/lib/node_modules/dlite/bin/run.js', realpath})).to.equal('sudo dlite os build')
    })
    it('names node and the entry point when sudo would not find them (a checkout, nvm), quoting what needs it', () => {
      expect(sudoCommand(['os', 'build', '--out', '/home/ann/my images'], {execPath: '/usr/bin/node', entry: '/home/ann/src/dlite/bin/run.js', realpath}))
        .to.equal("sudo /usr/bin/node /home/ann/src/dlite/bin/run.js os build --out '/home/ann/my images'")
      expect(sudoCommand(['os', 'build'], {execPath: '/home/ann/.nvm/bin/node', entry: '/usr/lib/node_modules/dlite/bin/run.js', realpath}))
        .to.equal('sudo /home/ann/.nvm/bin/node /usr/lib/node_modules/dlite/bin/run.js os build')
    })
  })

  describe('delivering the staged image', () => {
    let dir: string
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'dlite-osbuild-unit-'))
    })
    afterEach(() => rmSync(dir, {recursive: true, force: true}))

    it('copies the files and the manifest into a new directory, and says what it delivered', () => {
      stageImage(join(dir, 'stage'))
      const out = join(dir, 'a', 'b', 'os')
      expect(deliverImage(join(dir, 'stage'), out)).to.deep.equal({manifest: join(out, 'manifest.json'), version: '1.0.0', outDir: out})
      expect(readdirSync(out).sort()).to.deep.equal(['initrd.img', 'manifest.json', 'root.img', 'vmlinuz'])
      expect(readFileSync(join(out, 'manifest.json'), 'utf8')).to.equal(readFileSync(join(dir, 'stage', 'manifest.json'), 'utf8'))
      expect(statSync(join(out, 'root.img')).mode & 0o777).to.equal(0o644)
    })

    it('replaces a previous image, and a link planted in the directory is replaced, never followed', () => {
      const out = join(dir, 'os')
      stageImage(join(dir, 'old'), '1.0.0')
      deliverImage(join(dir, 'old'), out)
      writeFileSync(join(dir, 'target'), 'not yours\n')
      rmSync(join(out, 'vmlinuz'))
      symlinkSync(join(dir, 'target'), join(out, 'vmlinuz'))
      writeFileSync(join(out, 'notes.txt'), 'kept\n')
      stageImage(join(dir, 'new'), '2.0.0')
      expect(deliverImage(join(dir, 'new'), out).version).to.equal('2.0.0')
      expect(readFileSync(join(dir, 'target'), 'utf8')).to.equal('not yours\n')
      expect(lstatSync(join(out, 'vmlinuz')).isFile()).to.equal(true)
      expect(readFileSync(join(out, 'vmlinuz'), 'utf8')).to.equal('vmlinuz of 2.0.0\n')
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).version).to.equal('2.0.0')
      expect(readFileSync(join(out, 'notes.txt'), 'utf8')).to.equal('kept\n')
    })

    it('a staged file that does not match its manifest fails, leaving no manifest and no temporary behind', () => {
      const out = join(dir, 'os')
      stageImage(join(dir, 'old'), '1.0.0')
      deliverImage(join(dir, 'old'), out)
      stageImage(join(dir, 'bad'), '2.0.0')
      writeFileSync(join(dir, 'bad', 'root.img'), 'tampered\n')
      expect(() => deliverImage(join(dir, 'bad'), out)).to.throw(/root\.img: sha256 .* does not match/)
      expect(existsSync(join(out, 'manifest.json'))).to.equal(false)
      expect(readdirSync(out).filter((name) => name.endsWith('.tmp'))).to.deep.equal([])
    })

    it('refuses a staged manifest that is not one, before touching the output directory', () => {
      mkdirSync(join(dir, 'stage'))
      writeFileSync(join(dir, 'stage', 'manifest.json'), '{"version": 1}')
      expect(() => deliverImage(join(dir, 'stage'), join(dir, 'os'))).to.throw(/version/)
      expect(existsSync(join(dir, 'os'))).to.equal(false)
    })

    it('stages in a fresh private directory, opened to the user only for delivery', () => {
      const stage = makeStagingDir()
      try {
        expect(statSync(stage).mode & 0o777).to.equal(0o700)
        stageImage(stage)
        openStagingToUser(stage)
        expect(statSync(stage).mode & 0o777).to.equal(0o755)
        for (const name of readdirSync(stage)) expect(statSync(join(stage, name)).mode & 0o777, name).to.equal(0o644)
      } finally {
        rmSync(stage, {recursive: true, force: true})
      }
    })
  })
})
