// The order `dlite install` looks for an OS image in when --os is not given (src/install/image-source.ts).
import {expect} from 'chai'

import {findImageSource, noImageError, parseReleaseField, type ImageSearchFacts} from '../../src/install/image-source.js'
import {osBuildDir} from '../../src/paths.js'

const BESIDE = '/opt/dlite/os/dist/manifest.json'
const BUILT = '/home/ann/.local/share/dlite/os/manifest.json'
const HEX = 'ab'.repeat(32)
const RELEASE = {manifest: 'https://releases.example/dlite-os/0.1.0/manifest.json', sha256: HEX}

function facts(files: string[], releaseField?: unknown): ImageSearchFacts {
  const present = new Set(files)
  return {cliRoot: '/opt/dlite', osBuildDir: '/home/ann/.local/share/dlite/os', isFile: (path) => present.has(path), releaseField}
}

describe('OS image discovery', () => {
  it('--os wins over everything, and nothing else is looked at', () => {
    const search = findImageSource('./mine/manifest.json', facts([BESIDE, BUILT], RELEASE))
    expect(search.found).to.deep.equal({source: './mine/manifest.json', origin: 'flag'})
    expect(search.searched).to.deep.equal([])
  })

  it('an image shipped beside the CLI wins over one `dlite os build` wrote', () => {
    expect(findImageSource(undefined, facts([BESIDE, BUILT], RELEASE)).found).to.deep.equal({source: BESIDE, origin: 'beside-cli'})
  })

  it('the image `dlite os build` wrote wins over the release\'s', () => {
    expect(findImageSource(undefined, facts([BUILT], RELEASE)).found).to.deep.equal({source: BUILT, origin: 'os-build'})
  })

  it('the release\'s https manifest comes with its pinned sha256, lower-cased', () => {
    const search = findImageSource(undefined, facts([], {...RELEASE, sha256: HEX.toUpperCase()}))
    expect(search.found).to.deep.equal({source: `${RELEASE.manifest}#sha256=${HEX}`, origin: 'release', sha256: HEX})
    expect(search.warnings).to.deep.equal([])
  })

  it('finds nothing without any of them, and says where it looked', () => {
    const search = findImageSource(undefined, facts(['/elsewhere/manifest.json']))
    expect(search.found).to.equal(undefined)
    expect(search.searched).to.deep.equal([BESIDE, BUILT])
    expect(search.warnings).to.deep.equal([])
  })

  it('refuses a release manifest over http, with a warning, and then finds nothing', () => {
    const search = findImageSource(undefined, facts([], {...RELEASE, manifest: 'http://releases.example/manifest.json'}))
    expect(search.found).to.equal(undefined)
    expect(search.warnings.join('\n')).to.match(/dliteOs.*ignored.*not an https:\/\/ URL/)
  })

  it('ignores a malformed release field: wrong types, a short or non-hex digest, not a URL', () => {
    for (const field of [
      'https://releases.example/manifest.json', [RELEASE], null, {sha256: HEX}, {...RELEASE, sha256: HEX.slice(1)},
      {...RELEASE, sha256: `${HEX.slice(2)}zz`}, {...RELEASE, sha256: 42}, {...RELEASE, manifest: 'releases.example/manifest.json'},
      {...RELEASE, manifest: 'file:///srv/manifest.json'},
    ]) {
      expect(parseReleaseField(field), JSON.stringify(field)).to.deep.include({ok: false})
      const search = findImageSource(undefined, facts([], field))
      expect(search.found, JSON.stringify(field)).to.equal(undefined)
      expect(search.warnings, JSON.stringify(field)).to.have.length(1)
    }
    expect(parseReleaseField(undefined)).to.equal(undefined)
  })

  it('a malformed release field does not hide an image found before it', () => {
    expect(findImageSource(undefined, facts([BUILT], {manifest: 'http://x.example/m.json', sha256: 'no'})).found?.origin).to.equal('os-build')
  })

  it('the error names `dlite os build`, --os PATH|URL and where it looked', () => {
    const error = noImageError([BESIDE, BUILT])
    expect(error.flag).to.equal('--os')
    expect(error.message).to.include(BESIDE).and.include(BUILT)
    expect(error.fix).to.include('dlite os build').and.include('--os PATH|URL')
  })

  it('`dlite os build` writes to <data dir>/os: DLITE_DATA_DIR, else XDG_DATA_HOME/dlite, else ~/.local/share/dlite', () => {
    expect(osBuildDir({DLITE_DATA_DIR: '/d'})).to.equal('/d/os')
    expect(osBuildDir({XDG_DATA_HOME: '/x'})).to.equal('/x/dlite/os')
    expect(osBuildDir({})).to.match(/\/\.local\/share\/dlite\/os$/)
  })
})
