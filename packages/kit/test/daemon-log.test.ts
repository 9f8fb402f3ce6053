import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {daemonLogLine} from '../src/daemon-log.js'
import {loadDlite} from '../src/load-dlite.js'

describe('daemon log and loading the core', () => {
  it('a daemon-log line is the time, the source and the text, one line', () => {
    const now = new Date('2026-12-04T10:00:00.000Z')
    expect(daemonLogLine('serving', 'dlite-dns', now)).to.equal('2026-12-04T10:00:00.000Z dlite-dns: serving\n')
    expect(daemonLogLine('VM ready', undefined, now)).to.equal('2026-12-04T10:00:00.000Z VM ready\n')
  })

  it('loadDlite imports the plugin surface from the root of the CLI that loaded the plugin', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kit-core-'))
    try {
      mkdirSync(join(root, 'dist', 'plugin-api'), {recursive: true})
      writeFileSync(join(root, 'dist', 'plugin-api', 'index.js'), 'export const surface = "from " + import.meta.url\n')
      const api = await loadDlite<{surface: string}>({root})
      expect(api.surface).to.match(/^from file:.*\/dist\/plugin-api\/index\.js$/)
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })
})
