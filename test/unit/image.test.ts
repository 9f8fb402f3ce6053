import {expect} from 'chai'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {
  fetchImageManifest,
  ImageNotInstalledError,
  ImageVerificationError,
  installImage,
  listInstalledImages,
  ManifestError,
  parseManifest,
  pruneImages,
  resolveCurrentImage,
  verifyInstalledImage,
  type ImageProgress,
} from '../../src/image/index.js'
import {GUEST_CONTRACT} from '../../src/guest/contract.js'

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

interface Fixture {
  dir: string
  manifestPath: string
  files: Record<string, Buffer>
  manifest: Record<string, unknown>
}

/** A small image in the shape `npm run os:build` writes (nested kernel/docker, roles, extra fields). */
function makeImage(root: string, version: string, opts: {arch?: string; seed?: number} = {}): Fixture {
  const dir = join(root, `src-${version}`)
  mkdirSync(dir, {recursive: true})
  const files: Record<string, Buffer> = {
    vmlinuz: randomBytes(96 * 1024),
    'initrd.img': randomBytes(40 * 1024 + (opts.seed ?? 0)),
    'root.img': randomBytes(300 * 1024),
  }
  const roles: Record<string, string> = {vmlinuz: 'kernel', 'initrd.img': 'initrd', 'root.img': 'root'}
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data)
  const manifest = {
    schema: 1,
    name: 'dlite-os',
    version,
    arch: opts.arch ?? 'x86_64',
    debian: {suite: 'trixie', arch: 'amd64'},
    kernel: {version: '6.12.117+deb13-amd64', cmdline: 'console=ttyS0'},
    docker: {version: '26.1.5', containerd: '1.7.24'},
    contract: GUEST_CONTRACT,
    files: Object.entries(files).map(([name, data]) => ({name, role: roles[name], size: data.length, sha256: sha(data)})),
    builtAt: '2026-11-23T18:25:30.596Z',
  }
  const manifestPath = join(dir, 'manifest.json')
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n')
  return {dir, manifestPath, files, manifest}
}

describe('OS image manifest', () => {
  const good = () => ({
    version: '1.2.3',
    arch: 'x86_64',
    kernelVersion: '6.12',
    dockerVersion: '26.1',
    extra: {anything: true},
    files: [{name: 'vmlinuz', size: 3, sha256: 'AB'.repeat(32)}],
  })

  it('accepts the flat form, lower-cases digests and keeps unknown fields', () => {
    const manifest = parseManifest(JSON.stringify(good()))
    expect(manifest).to.deep.include({version: '1.2.3', arch: 'x86_64', kernelVersion: '6.12', dockerVersion: '26.1', totalSize: 3})
    expect(manifest.files[0].sha256).to.equal('ab'.repeat(32))
    expect(manifest.raw.extra).to.deep.equal({anything: true})
  })

  it('an image that speaks another host/guest contract (or states none) is refused before any file is fetched', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dlite-contract-'))
    try {
      for (const contract of [GUEST_CONTRACT - 1, undefined]) {
        const image = makeImage(join(root, `src-${contract}`), '3.0.0')
        const manifest = JSON.parse(readFileSync(image.manifestPath, 'utf8')) as Record<string, unknown>
        if (contract === undefined) delete manifest.contract
        else manifest.contract = contract
        writeFileSync(image.manifestPath, JSON.stringify(manifest))
        const imagesDir = join(root, `images-${contract}`)
        const error = await installImage(imagesDir, image.manifestPath).then(() => undefined, (e: Error) => e)
        expect(error?.message).to.match(contract === undefined ? /states no host\/guest contract, and this dlite speaks \d+/ : new RegExp(`speaks host/guest contract ${contract}, and this dlite speaks ${GUEST_CONTRACT}`))
        expect(error?.message).to.include('npm run os:build')
        expect(existsSync(imagesDir) ? readdirSync(imagesDir) : []).to.deep.equal([])
      }
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })

  it('accepts the nested form os:build writes, with cmdline and contract', () => {
    const fixtureRoot = mkdtempSync(join(tmpdir(), 'dlite-manifest-'))
    try {
      const manifest = parseManifest(readFileSync(makeImage(fixtureRoot, '0.0.0-dev.a304552c').manifestPath, 'utf8'))
      expect(manifest).to.deep.include({kernelVersion: '6.12.117+deb13-amd64', dockerVersion: '26.1.5', kernelCmdline: 'console=ttyS0', contract: GUEST_CONTRACT})
      expect(manifest.files.map((f) => f.role)).to.deep.equal(['kernel', 'initrd', 'root'])
    } finally {
      rmSync(fixtureRoot, {recursive: true, force: true})
    }
  })

  const broken: [string, (m: Record<string, any>) => void, RegExp][] = [
    ['no version', (m) => delete m.version, /"version"/],
    ['a version with a slash', (m) => (m.version = '../1'), /"version"/],
    ['no arch', (m) => delete m.arch, /"arch"/],
    ['no kernel version', (m) => delete m.kernelVersion, /kernelVersion/],
    ['no docker version', (m) => (m.dockerVersion = ''), /dockerVersion/],
    ['no files', (m) => (m.files = []), /"files"/],
    ['a file in a directory', (m) => (m.files[0].name = 'boot/vmlinuz'), /plain file name/],
    ['a path escaping the image', (m) => (m.files[0].name = '../../etc/passwd'), /plain file name/],
    ['a hidden file', (m) => (m.files[0].name = '.x'), /plain file name/],
    ['a file named manifest.json', (m) => (m.files[0].name = 'manifest.json'), /plain file name/],
    ['a file listed twice', (m) => m.files.push({...m.files[0]}), /listed twice/],
    ['a negative size', (m) => (m.files[0].size = -1), /size of vmlinuz/],
    ['a fractional size', (m) => (m.files[0].size = 1.5), /size of vmlinuz/],
    ['a size as text', (m) => (m.files[0].size = '3'), /size of vmlinuz/],
    ['a short digest', (m) => (m.files[0].sha256 = 'abc'), /sha256 of vmlinuz/],
    ['a non-hex digest', (m) => (m.files[0].sha256 = 'zz'.repeat(32)), /sha256 of vmlinuz/],
  ]
  for (const [what, mutate, message] of broken) {
    it(`rejects ${what}`, () => {
      const manifest = good() as Record<string, any>
      mutate(manifest)
      expect(() => parseManifest(JSON.stringify(manifest), 'm.json')).to.throw(ManifestError, message)
    })
  }

  it('rejects text that is not a JSON object', () => {
    expect(() => parseManifest('{', 'm.json')).to.throw(ManifestError, /m\.json: .*not JSON/)
    expect(() => parseManifest('[]')).to.throw(ManifestError, /not a JSON object/)
  })
})

describe('OS image store', () => {
  let root: string
  let images: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'dlite-images-'))
    images = join(root, 'home', 'images')
  })
  afterEach(() => rmSync(root, {recursive: true, force: true}))

  const entries = () => (existsSync(images) ? readdirSync(images).sort() : [])

  function expectInstalled(fixture: Fixture, version: string) {
    for (const [name, data] of Object.entries(fixture.files)) {
      expect(readFileSync(join(images, version, name)).equals(data), name).to.equal(true)
    }
    expect(readFileSync(join(images, version, 'manifest.json'), 'utf8')).to.equal(readFileSync(fixture.manifestPath, 'utf8'))
  }

  it('installs from a path, reporting progress, and resolves the boot files', async () => {
    const fixture = makeImage(root, '1.0.0')
    const progress: ImageProgress[] = []
    const result = await installImage(images, fixture.manifestPath, {onProgress: (p) => progress.push(p), arch: 'amd64'})
    expect(result).to.deep.include({version: '1.0.0', alreadyInstalled: false, dir: join(images, '1.0.0')})
    expectInstalled(fixture, '1.0.0')
    expect(entries()).to.deep.equal(['1.0.0']) // no work directory left
    const total = 436 * 1024
    expect(progress.at(-1)).to.deep.equal({file: 'root.img', fileBytes: 300 * 1024, fileTotal: 300 * 1024, bytesDone: total, bytesTotal: total})
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytesDone).to.be.at.least(progress[i - 1].bytesDone)
    const image = resolveCurrentImage(images, '1.0.0')
    expect(image).to.deep.include({kernel: join(images, '1.0.0', 'vmlinuz'), initrd: join(images, '1.0.0', 'initrd.img'), root: join(images, '1.0.0', 'root.img'), kernelCmdline: 'console=ttyS0'})
    await verifyInstalledImage(images, '1.0.0')
  })

  it('installs from a file:// URL and a relative path', async () => {
    const fixture = makeImage(root, '1.0.0')
    await installImage(images, pathToFileURL(fixture.manifestPath).href)
    expectInstalled(fixture, '1.0.0')
    rmSync(join(images, '1.0.0'), {recursive: true})
    await installImage(images, 'src-1.0.0/manifest.json', {cwd: root})
    expectInstalled(fixture, '1.0.0')
  })

  it('says "already installed" without fetching again', async () => {
    const fixture = makeImage(root, '1.0.0')
    await installImage(images, fixture.manifestPath)
    rmSync(join(fixture.dir, 'root.img')) // a second download would fail
    expect((await installImage(images, fixture.manifestPath)).alreadyInstalled).to.equal(true)
  })

  it('a checksum mismatch names the file and the expected digest, and changes nothing', async () => {
    const v1 = makeImage(root, '1.0.0')
    await installImage(images, v1.manifestPath)
    const v2 = makeImage(root, '2.0.0')
    const tampered = Buffer.from(v2.files['root.img'])
    tampered[1000] ^= 0xff
    writeFileSync(join(v2.dir, 'root.img'), tampered)
    let caught: unknown
    await installImage(images, v2.manifestPath).catch((error: unknown) => (caught = error))
    expect(caught).to.be.instanceOf(ImageVerificationError)
    expect(String(caught)).to.contain('root.img').and.contain(`expected sha256 ${sha(v2.files['root.img'])}`).and.contain(`got sha256 ${sha(tampered)}`)
    expect(entries()).to.deep.equal(['1.0.0'])
    expectInstalled(v1, '1.0.0')
  })

  it('a truncated or missing file is refused with the sizes, and changes nothing', async () => {
    const fixture = makeImage(root, '2.0.0')
    writeFileSync(join(fixture.dir, 'initrd.img'), fixture.files['initrd.img'].subarray(0, 100))
    await installImage(images, fixture.manifestPath).then(() => expect.fail('installed'), (error: Error) => {
      expect(error.message).to.contain('initrd.img').and.contain(`expected ${fixture.files['initrd.img'].length} bytes`).and.contain('got 100 bytes')
    })
    rmSync(join(fixture.dir, 'initrd.img'))
    await installImage(images, fixture.manifestPath).then(() => expect.fail('installed'), (error: Error) => {
      expect(error.message).to.match(/initrd\.img: missing at/)
    })
    expect(entries()).to.deep.equal([])
  })

  it('refuses an image for another architecture before downloading', async () => {
    const fixture = makeImage(root, '1.0.0', {arch: 'aarch64'})
    await fetchImageManifest(fixture.manifestPath, {arch: 'x86_64'}).then(() => expect.fail('accepted'), (error: Error) => {
      expect(error.message).to.match(/is for aarch64, this host needs x86_64/)
    })
    expect((await fetchImageManifest(fixture.manifestPath, {arch: 'arm64'})).manifest.version).to.equal('1.0.0')
  })

  it('refuses a different image under an installed version unless told to replace it', async () => {
    const first = makeImage(join(root, 'a'), '1.0.0')
    const second = makeImage(join(root, 'b'), '1.0.0', {seed: 7})
    await installImage(images, first.manifestPath)
    await installImage(images, second.manifestPath).then(() => expect.fail('replaced'), (error: Error) => {
      expect(error.message).to.match(/already installed with different files/)
    })
    expectInstalled(first, '1.0.0')
    await installImage(images, second.manifestPath, {replace: true})
    expectInstalled(second, '1.0.0')
    expect(entries()).to.deep.equal(['1.0.0'])
  })

  it('lists versions, prunes all but current and previous, and clears only stale work directories', async () => {
    for (const version of ['1.0.0', '2.0.0', '3.0.0']) await installImage(images, makeImage(root, version).manifestPath)
    expect(listInstalledImages(images).map((i) => i.version).sort()).to.deep.equal(['1.0.0', '2.0.0', '3.0.0'])
    mkdirSync(join(images, '.incoming-4.0.0-dead'))
    mkdirSync(join(images, '.incoming-4.0.0-live'))
    const old = new Date(Date.now() - 2 * 3600_000)
    utimesSync(join(images, '.incoming-4.0.0-dead'), old, old)
    mkdirSync(join(images, 'not-an-image')) // no manifest: not ours to delete
    expect(pruneImages(images, ['3.0.0', '2.0.0'])).to.deep.equal(['1.0.0'])
    expect(entries()).to.deep.equal(['.incoming-4.0.0-live', '2.0.0', '3.0.0', 'not-an-image'])
    expect(() => pruneImages(images, [undefined])).to.throw(/at least the current/)
  })

  it('resolving a version that is not installed, or incomplete, says how to fix it', async () => {
    expect(() => resolveCurrentImage(images, '9.9.9')).to.throw(ImageNotInstalledError, /dlite update/)
    await installImage(images, makeImage(root, '1.0.0').manifestPath)
    rmSync(join(images, '1.0.0', 'vmlinuz'))
    expect(() => resolveCurrentImage(images, '1.0.0')).to.throw(ImageNotInstalledError, /incomplete \(vmlinuz/)
  })

  it('re-verification notices a file changed after install', async () => {
    await installImage(images, makeImage(root, '1.0.0').manifestPath)
    const path = join(images, '1.0.0', 'vmlinuz')
    const data = readFileSync(path)
    data[0] ^= 1
    writeFileSync(path, data)
    await verifyInstalledImage(images, '1.0.0').then(() => expect.fail('verified'), (error: Error) => {
      expect(error).to.be.instanceOf(ImageVerificationError)
      expect(error.message).to.match(/^vmlinuz: .*expected sha256/)
    })
  })

  describe('over http (a server on 127.0.0.1)', () => {
    let server: Server
    let base: string
    let requests: string[]
    let handler: (req: IncomingMessage, res: ServerResponse) => boolean
    let fixture: Fixture

    beforeEach(async () => {
      fixture = makeImage(root, '2.0.0')
      requests = []
      handler = () => false
      server = createServer((req, res) => {
        requests.push(req.url!)
        if (handler(req, res)) return
        const match = /^\/releases\/2\/(.+)$/.exec(req.url!)
        const path = match && join(fixture.dir, match[1])
        if (!path || !existsSync(path)) {
          res.writeHead(404).end('not found')
          return
        }
        const data = readFileSync(path)
        res.writeHead(200, {'content-length': data.length}).end(data)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases/2/`
    })
    afterEach(async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    })

    it('fetches the files relative to the manifest URL, with progress', async () => {
      let last: ImageProgress | undefined
      const result = await installImage(images, `${base}manifest.json`, {onProgress: (p) => (last = p)})
      expect(result.source).to.equal(`${base}manifest.json`)
      expectInstalled(fixture, '2.0.0')
      expect(requests).to.deep.equal(['/releases/2/manifest.json', '/releases/2/vmlinuz', '/releases/2/initrd.img', '/releases/2/root.img'])
      expect(last?.bytesDone).to.equal(last?.bytesTotal)
    })

    it('a manifest pinned with #sha256= installs when its bytes match, and the pin is kept in the source', async () => {
      const digest = createHash('sha256').update(readFileSync(join(fixture.dir, 'manifest.json'))).digest('hex')
      const result = await installImage(images, `${base}manifest.json#sha256=${digest}`)
      expect(result.version).to.equal('2.0.0')
      expectInstalled(fixture, '2.0.0')
    })

    it('a manifest that is not the pinned one is refused before any image file is fetched, and changes nothing', async () => {
      await installImage(images, `${base}manifest.json#sha256=${'0'.repeat(64)}`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error.message).to.match(/the manifest at .*manifest\.json has sha256 [0-9a-f]{64}, not the pinned 0{64}/)
      })
      expect(requests).to.deep.equal(['/releases/2/manifest.json'])
      expect(entries()).to.deep.equal([])
    })

    it('a redirect to plain http off this machine is refused without following it, and changes nothing', async () => {
      handler = (req, res) => {
        if (!req.url!.endsWith('root.img')) return false
        res.writeHead(302, {location: 'http://mirror.example/root.img'}).end()
        return true
      }
      await installImage(images, `${base}manifest.json`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error.message).to.equal(`cannot download ${base}root.img: it redirects to http://mirror.example/root.img, which is not https; refused`)
      })
      expect(entries()).to.deep.equal([])
    })

    it('redirects within loopback are followed', async () => {
      handler = (req, res) => {
        const moved = /^\/releases\/2\/old\/(.+)$/.exec(req.url!)
        if (!moved) return false
        res.writeHead(301, {location: `../${moved[1]}`}).end()
        return true
      }
      await installImage(images, `${base}old/manifest.json`)
      expectInstalled(fixture, '2.0.0')
      expect(requests.filter((r) => r.includes('/old/'))).to.have.length(4)
    })

    it('a 404 names the URL and changes nothing', async () => {
      rmSync(join(fixture.dir, 'root.img'))
      await installImage(images, `${base}manifest.json`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error.message).to.equal(`cannot download ${base}root.img: HTTP 404 Not Found`)
      })
      expect(entries()).to.deep.equal([])
    })

    it('a connection cut short is a truncated download, and changes nothing', async () => {
      handler = (req, res) => {
        if (!req.url!.endsWith('root.img')) return false
        res.writeHead(200, {'content-length': fixture.files['root.img'].length})
        res.write(fixture.files['root.img'].subarray(0, 50_000), () => res.destroy())
        return true
      }
      await installImage(images, `${base}manifest.json`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error).to.be.instanceOf(ImageVerificationError)
        expect(error.message).to.match(/^root\.img: .*root\.img: expected 307200 bytes \(manifest\), got \d+ bytes before the transfer failed/)
      })
      expect(entries()).to.deep.equal([])
    })

    it('a server sending more than the manifest says is cut off, and changes nothing', async () => {
      handler = (req, res) => {
        if (!req.url!.endsWith('vmlinuz')) return false
        res.writeHead(200) // chunked: no length announced up front
        res.end(Buffer.concat([fixture.files.vmlinuz, Buffer.alloc(4096)]))
        return true
      }
      await installImage(images, `${base}manifest.json`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error).to.be.instanceOf(ImageVerificationError)
        expect(error.message).to.match(/^vmlinuz: .*expected 98304 bytes \(manifest\), got more than that/)
      })
      expect(entries()).to.deep.equal([])
    })

    it('a Content-Length that disagrees with the manifest is refused before reading', async () => {
      handler = (req, res) => {
        if (!req.url!.endsWith('initrd.img')) return false
        res.writeHead(200, {'content-length': 10}).end(Buffer.alloc(10))
        return true
      }
      await installImage(images, `${base}manifest.json`).then(() => expect.fail('installed'), (error: Error) => {
        expect(error.message).to.match(/^initrd\.img: .*expected 40960 bytes \(manifest\), got 10 bytes/)
      })
      expect(entries()).to.deep.equal([])
    })
  })
})
