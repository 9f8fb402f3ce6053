import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  AlreadyInstalledError,
  ConfigTooNewError,
  configPath,
  createConfig,
  InvalidConfigError,
  isInstalled,
  NotInstalledError,
  readConfig,
  rollbackImage,
  selectImage,
  updateConfig,
  type DliteConfig,
} from '../../src/config/index.js'
import {homeId} from '../../src/network/names.js'
import {sampleConfig} from '../helpers/config-fixture.js'

describe('config store', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-config-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  const onDisk = () => JSON.parse(readFileSync(configPath(home), 'utf8'))

  it('reading a home without config says "not installed" and names the fix, writing nothing', () => {
    expect(() => readConfig(home)).to.throw(NotInstalledError, /dlite install/)
    expect(readdirSync(home)).to.deep.equal([])
    expect(isInstalled(home)).to.equal(false)
  })

  it('creates, stamps the schema version and reads back the same config', () => {
    createConfig(home, sampleConfig())
    expect(isInstalled(home)).to.equal(true)
    expect(readConfig(home)).to.deep.equal(sampleConfig())
    expect(onDisk().__internal__.migrations.version).to.equal('1.0.0')
    expect(statSync(configPath(home)).mode & 0o777).to.equal(0o644 & ~process.umask())
    expect(readdirSync(home)).to.deep.equal(['config.json']) // no temp file left
  })

  it('refuses to create over an existing config unless told to overwrite', () => {
    createConfig(home, sampleConfig())
    expect(() => createConfig(home, {...sampleConfig(), cpus: 1})).to.throw(AlreadyInstalledError, /--force/)
    expect(readConfig(home).cpus).to.equal(2)
    createConfig(home, {...sampleConfig(), cpus: 1}, {overwrite: true})
    expect(readConfig(home).cpus).to.equal(1)
  })

  const invalid: [string, Partial<Record<keyof DliteConfig, unknown>>, RegExp][] = [
    ['cpus 0', {cpus: 0}, /cpus/],
    ['fractional memory', {memoryGiB: 1.5}, /memoryGiB/],
    ['a 4 GiB disk', {diskGiB: 4}, /diskGiB/],
    ['an upper-case hostname with a space', {hostname: 'Bad Host'}, /hostname/],
    ['a relative share', {share: 'relative/dir'}, /share/],
    ['an unknown accelerator', {accel: 'xen'}, /accel/],
    ['a subnet that is no CIDR', {subnet: 'lots'}, /subnet/],
    ['an image without current', {image: {previous: '1'}}, /current/],
    ['a createdAt that is no date', {createdAt: 'yesterday'}, /createdAt/],
  ]
  for (const [what, patch, field] of invalid) {
    it(`rejects ${what} and leaves nothing behind`, () => {
      const bad = {...sampleConfig(), ...patch} as DliteConfig
      expect(() => createConfig(home, bad)).to.throw(InvalidConfigError, field)
      expect(readdirSync(home)).to.deep.equal([])
    })
  }

  it('accepts the optional owner and rejects a malformed one', () => {
    createConfig(home, {...sampleConfig(), owner: {uid: 1000, gid: 1000, home: '/home/user'}})
    expect(readConfig(home).owner).to.deep.equal({uid: 1000, gid: 1000, home: '/home/user'})
    expect(() => updateConfig(home, {owner: {uid: -1, gid: 0, home: '/'}})).to.throw(InvalidConfigError, /uid/)
  })

  it('rejects a config with a field missing', () => {
    const {accel: _accel, ...partial} = sampleConfig()
    expect(() => createConfig(home, partial as DliteConfig)).to.throw(InvalidConfigError, /accel/)
  })

  it('updates atomically and refuses an invalid update, keeping the file as it was', () => {
    createConfig(home, sampleConfig())
    expect(updateConfig(home, {cpus: 4}).cpus).to.equal(4)
    const before = readFileSync(configPath(home), 'utf8')
    expect(() => updateConfig(home, {memoryGiB: -1})).to.throw(InvalidConfigError, /memoryGiB/)
    expect(readFileSync(configPath(home), 'utf8')).to.equal(before)
    expect(onDisk().__internal__.migrations.version).to.equal('1.0.0')
  })

  it('selects a new image keeping the old one as previous, and rolls back', () => {
    createConfig(home, sampleConfig())
    expect(selectImage(home, '2.0.0').image).to.deep.equal({current: '2.0.0', previous: '1.0.0'})
    expect(selectImage(home, '2.0.0').image).to.deep.equal({current: '2.0.0', previous: '1.0.0'})
    expect(rollbackImage(home).image).to.deep.equal({current: '1.0.0', previous: '2.0.0'})
    updateConfig(home, (c) => ({...c, image: {current: c.image.current}}))
    expect(() => rollbackImage(home)).to.throw(/no previous OS image/)
  })

  it('reports a corrupt file as invalid, naming the path', () => {
    writeFileSync(configPath(home), '{"cpus": 2,')
    expect(() => readConfig(home)).to.throw(InvalidConfigError, /config\.json/)
  })

  describe('migrations', () => {
    // Schema 1 is the only one that has shipped, so this simulates the next change: pretend schema 2
    // added a field `accel` that schema-1 files lack, with the migration that fills it in.
    function writeV1File() {
      const {accel: _accel, ...v1} = sampleConfig()
      writeFileSync(configPath(home), JSON.stringify({...v1, __internal__: {migrations: {version: '1.0.0'}}}))
    }

    it('migrates an old-version file on open, persists it and runs each migration once', () => {
      writeV1File()
      let runs = 0
      const migrations = {
        '2.0.0': (store: {set: (k: 'accel', v: 'tcg') => void}) => {
          runs++
          store.set('accel', 'tcg')
        },
      }
      const config = readConfig(home, {schemaVersion: 2, migrations: migrations as never})
      expect(config.accel).to.equal('tcg')
      expect(onDisk().accel).to.equal('tcg')
      expect(onDisk().__internal__.migrations.version).to.equal('2.0.0')
      readConfig(home, {schemaVersion: 2, migrations: migrations as never})
      expect(runs).to.equal(1)
    })

    it('without the migration the old file fails validation instead of being half-read', () => {
      writeV1File()
      expect(() => readConfig(home, {schemaVersion: 2, migrations: {}})).to.throw(InvalidConfigError, /accel/)
    })

    it('a file with no version stamp (hand-written) is adopted at the current version', () => {
      writeFileSync(configPath(home), JSON.stringify(sampleConfig()))
      expect(readConfig(home)).to.deep.equal(sampleConfig())
      expect(onDisk().__internal__.migrations.version).to.equal('1.0.0')
    })

    it('refuses a file written by a newer dlite and does not downgrade its stamp', () => {
      writeFileSync(configPath(home), JSON.stringify({...sampleConfig(), __internal__: {migrations: {version: '3.0.0'}}}))
      expect(() => readConfig(home)).to.throw(ConfigTooNewError, /upgrade dlite/)
      expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
    })
  })
})

describe('config derived values', () => {
  it('gives different homes different short ids, and the same home the same', () => {
    expect(homeId('/a/.dlite')).to.match(/^[0-9a-f]{6}$/)
    expect(homeId('/a/.dlite')).to.equal(homeId('/a/.dlite'))
    expect(homeId('/a/.dlite')).to.not.equal(homeId('/b/.dlite'))
  })
})
