import {expect} from 'chai'
import {chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {readSetting, settingPath, writeSetting} from '../src/setting.js'

describe('setting (state.json)', () => {
  let home: string
  let stateDir: string

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'dlite-routing-home-'))
    stateDir = join(home, 'plugins', 'dlite-routing')
  })

  afterEach(() => rmSync(home, {recursive: true, force: true}))

  it('a home that never enabled routing reads as disabled', () => {
    expect(readSetting(stateDir)).to.deep.equal({enabled: false})
  })

  it('writes and reads back, replacing the file whole with nothing left beside it', () => {
    writeSetting(stateDir, {enabled: true, updatedAt: '2026-11-23T20:00:00.000Z'}, home)
    expect(readSetting(stateDir)).to.deep.equal({enabled: true, updatedAt: '2026-11-23T20:00:00.000Z'})
    writeSetting(stateDir, {enabled: false}, home)
    expect(readSetting(stateDir)).to.deep.equal({enabled: false})
    expect(readdirSync(stateDir)).to.deep.equal(['state.json'])
    expect(JSON.parse(readFileSync(settingPath(stateDir), 'utf8'))).to.deep.equal({enabled: false})
    expect(statSync(settingPath(stateDir)).mode & 0o777).to.equal(0o644)
  })

  it('a damaged file is an error that says how to repair it', () => {
    mkdirSync(stateDir, {recursive: true})
    for (const text of ['{', '{"enabled":"yes"}', 'null']) {
      writeFileSync(settingPath(stateDir), text)
      expect(() => readSetting(stateDir), text).to.throw(/state\.json is damaged; run `dlite routing enable` or `dlite routing disable`/)
    }
  })

  it('under sudo, hands the directories and the file to the home\'s owner; a link put in a directory\'s place is refused, its target untouched', function () {
    if (process.getuid?.() !== 0) this.skip() // only root hands files to another user
    chownSync(home, 65534, 65534)
    writeSetting(stateDir, {enabled: true}, home)
    for (const path of [join(home, 'plugins'), stateDir, settingPath(stateDir)]) expect(statSync(path).uid, path).to.equal(65534)
    // the user replaces the plugin's directory with a link to a directory of root's
    const roots = mkdtempSync(join(tmpdir(), 'dlite-routing-root-'))
    try {
      rmSync(stateDir, {recursive: true})
      symlinkSync(roots, stateDir)
      expect(() => writeSetting(stateDir, {enabled: false}, home)).to.throw(/ELOOP|not the directory/)
      expect(statSync(roots).uid).to.equal(0)
      expect(readdirSync(roots)).to.deep.equal([])
    } finally {
      rmSync(roots, {recursive: true, force: true})
    }
  })
})
