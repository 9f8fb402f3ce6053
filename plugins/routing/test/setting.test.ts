import {expect} from 'chai'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync} from 'node:fs'
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
})
