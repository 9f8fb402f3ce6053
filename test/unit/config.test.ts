import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  AlreadyInstalledError,
  ConfigTooNewError,
  configPath,
  InvalidConfigError,
  isInstalled,
  NotInstalledError,
  readConfig,
  type DliteConfig,
} from '../../src/config/index.js'
import {createConfig, rollbackImage, selectImage, updateConfig} from '../../src/config/store.js'
import {homeId} from '../../src/network/names.js'
import {sampleConfig} from '../helpers/config-fixture.js'
import {rejection} from '../helpers/rejection.js'

/**
 * The error a promise rejects with; fails the test when it resolves. Errors from conf's path are compared
 * by `code`: under mocha + tsx, the lazily imported store.ts gets its own copy of the error classes.
 */
describe('config store', () => {
  let home: string
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-config-'))
  })
  afterEach(() => rmSync(home, {recursive: true, force: true}))

  const onDisk = () => JSON.parse(readFileSync(configPath(home), 'utf8'))

  it('reading a home without config says "not installed" and names the fix, writing nothing', async () => {
    const error = await rejection(readConfig(home))
    expect(error).to.be.instanceOf(NotInstalledError)
    expect(error.message).to.match(/dlite install/)
    expect(readdirSync(home)).to.deep.equal([])
    expect(isInstalled(home)).to.equal(false)
  })

  it('creates, stamps the schema version and reads back the same config', async () => {
    createConfig(home, sampleConfig())
    expect(isInstalled(home)).to.equal(true)
    expect(await readConfig(home)).to.deep.equal(sampleConfig())
    expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
    expect(statSync(configPath(home)).mode & 0o777).to.equal(0o644 & ~process.umask())
    expect(readdirSync(home)).to.deep.equal(['config.json']) // no temp file left
  })

  it('refuses to create over an existing config unless told to overwrite', async () => {
    createConfig(home, sampleConfig())
    expect(() => createConfig(home, {...sampleConfig(), cpus: 1})).to.throw(AlreadyInstalledError, /--force/)
    expect((await readConfig(home)).cpus).to.equal(2)
    createConfig(home, {...sampleConfig(), cpus: 1}, {overwrite: true})
    expect((await readConfig(home)).cpus).to.equal(1)
  })

  const invalid: [string, Partial<Record<keyof DliteConfig, unknown>>, RegExp][] = [
    ['cpus 0', {cpus: 0}, /cpus/],
    ['fractional memory', {memoryGiB: 1.5}, /memoryGiB/],
    ['a 4 GiB disk', {diskGiB: 4}, /diskGiB/],
    ['an upper-case hostname with a space', {hostname: 'Bad Host'}, /hostname/],
    ['a relative mount', {mounts: [{path: 'relative/dir'}]}, /mounts/],
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

    it(`reading a stamped file with ${what} fails with conf's message, naming the field`, async () => {
      writeFileSync(configPath(home), JSON.stringify({...sampleConfig(), ...patch, __internal__: {migrations: {version: '3.0.0'}}}))
      const error = await rejection(readConfig(home))
      expect(error.code).to.equal(new InvalidConfigError('', '').code)
      expect(error.message).to.match(/Config schema violation/).and.to.match(field)
    })
  }

  it('accepts the optional owner and rejects a malformed one', async () => {
    createConfig(home, {...sampleConfig(), owner: {uid: 1000, gid: 1000, home: '/home/user'}})
    expect((await readConfig(home)).owner).to.deep.equal({uid: 1000, gid: 1000, home: '/home/user'})
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
    expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
  })

  it('selects a new image keeping the old one as previous, and rolls back', () => {
    createConfig(home, sampleConfig())
    expect(selectImage(home, '2.0.0').image).to.deep.equal({current: '2.0.0', previous: '1.0.0'})
    expect(selectImage(home, '2.0.0').image).to.deep.equal({current: '2.0.0', previous: '1.0.0'})
    expect(rollbackImage(home).image).to.deep.equal({current: '1.0.0', previous: '2.0.0'})
    updateConfig(home, (c) => ({...c, image: {current: c.image.current}}))
    expect(() => rollbackImage(home)).to.throw(/no previous OS image/)
  })

  it('reports a corrupt file as invalid, naming the path', async () => {
    writeFileSync(configPath(home), '{"cpus": 2,')
    const error = await rejection(readConfig(home))
    expect(error).to.be.instanceOf(InvalidConfigError)
    expect(error.message).to.match(/config\.json/)
  })

  describe('migrations', () => {
    it('schema 1 (every install before user-mode networking) becomes the current schema as a bridged VM, written back once', async () => {
      const {network: _network, mounts, ...v1} = sampleConfig()
      writeFileSync(configPath(home), JSON.stringify({...v1, share: mounts[0].path, __internal__: {migrations: {version: '1.0.0'}}}))
      const config = await readConfig(home)
      expect(config.network).to.equal('bridged')
      expect(onDisk().network).to.equal('bridged')
      expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
      expect(await readConfig(home)).to.deep.equal(config)
    })

    it('schema 2 (one share) becomes schema 3 with that directory as its only mount', async () => {
      const {mounts: _mounts, ...v2} = sampleConfig()
      writeFileSync(configPath(home), JSON.stringify({...v2, share: '/srv/project', __internal__: {migrations: {version: '2.0.0'}}}))
      const config = await readConfig(home)
      expect(config.mounts).to.deep.equal([{path: '/srv/project'}])
      expect(onDisk()).to.not.have.property('share')
      expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
    })

    // This simulates the next change: pretend schema 4 added a field `accel` that schema-3 files lack, with
    // the migration that fills it in.
    function writeV3File() {
      const {accel: _accel, ...v3} = sampleConfig()
      writeFileSync(configPath(home), JSON.stringify({...v3, __internal__: {migrations: {version: '3.0.0'}}}))
    }

    it('migrates an old-version file on open, persists it and runs each migration once', async () => {
      writeV3File()
      let runs = 0
      const migrations = {
        '4.0.0': (store: {set: (k: 'accel', v: 'tcg') => void}) => {
          runs++
          store.set('accel', 'tcg')
        },
      }
      const config = await readConfig(home, {schemaVersion: 4, migrations: migrations as never})
      expect(config.accel).to.equal('tcg')
      expect(onDisk().accel).to.equal('tcg')
      expect(onDisk().__internal__.migrations.version).to.equal('4.0.0')
      await readConfig(home, {schemaVersion: 4, migrations: migrations as never})
      expect(runs).to.equal(1)
    })

    it('without the migration the old file fails validation instead of being half-read', async () => {
      writeV3File()
      const error = await rejection(readConfig(home, {schemaVersion: 4, migrations: {}}))
      expect(error.code).to.equal(new InvalidConfigError('', '').code)
      expect(error.message).to.match(/accel/)
    })

    it('a file with no version stamp (hand-written) is adopted at the current version', async () => {
      writeFileSync(configPath(home), JSON.stringify(sampleConfig()))
      expect(await readConfig(home)).to.deep.equal(sampleConfig())
      expect(onDisk().__internal__.migrations.version).to.equal('3.0.0')
    })

    it('refuses a file written by a newer dlite and does not downgrade its stamp', async () => {
      writeFileSync(configPath(home), JSON.stringify({...sampleConfig(), __internal__: {migrations: {version: '4.0.0'}}}))
      const error = await rejection(readConfig(home))
      expect(error).to.be.instanceOf(ConfigTooNewError)
      expect(error.message).to.match(/upgrade dlite/)
      expect(onDisk().__internal__.migrations.version).to.equal('4.0.0')
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
