import {expect} from 'chai'
import {closeSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {openLogForAppend} from '../../src/util/append-log.js'

describe('daemon log files', () => {
  it('appends, and refuses a link put where the log goes (a root daemon must not write through it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dlite-log-'))
    try {
      const log = join(dir, 'console.log')
      writeFileSync(log, 'old\n')
      const fd = openLogForAppend(log)
      writeSync(fd, 'new\n')
      closeSync(fd)
      expect(readFileSync(log, 'utf8')).to.equal('old\nnew\n')
      const precious = join(dir, 'precious')
      writeFileSync(precious, 'keep')
      const planted = join(dir, 'planted.log')
      symlinkSync(precious, planted)
      expect(() => openLogForAppend(planted)).to.throw(/ELOOP/)
      expect(readFileSync(precious, 'utf8')).to.equal('keep')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
