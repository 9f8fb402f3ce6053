// The plugin's contract with oclif and with the core: hooks declared where their code is, and only the core's
// documented surface used (types by name; code through loadDlite, never `dlite-cli/plugin` or core files at run time).
import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {oclif: {hooks: Record<string, string>}}

function sources(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
}

describe('plugin package', () => {
  it('declares the lifecycle and request hooks, each backed by a source file', () => {
    expect(Object.keys(pkg.oclif.hooks).sort()).to.deep.equal(['dlite:plugin-request', 'dlite:vm-ready', 'dlite:vm-stopped', 'dlite:vm-stopping'])
    const hookFiles = readdirSync(join(ROOT, 'src', 'hooks'))
    for (const target of Object.values(pkg.oclif.hooks)) {
      expect(target).to.match(/^\.\/dist\/hooks\/[\w-]+\.js$/)
      expect(hookFiles, target).to.include(target.replace('./dist/hooks/', '').replace(/\.js$/, '.ts'))
    }
  })

  it('imports dlite-cli/plugin for types only and never reaches into the core by path', () => {
    for (const file of sources(join(ROOT, 'src'))) {
      const text = readFileSync(file, 'utf8')
      const name = relative(ROOT, file)
      for (const line of text.split('\n').filter((l) => /from 'dlite-cli\/plugin'/.test(l))) {
        expect(line, name).to.match(/^import type /)
      }
      expect(text, name).not.to.match(/from '(\.\.\/){2,}(src|dist)\//)
      expect(text, name).not.to.match(/import\('dlite-cli\/plugin'\)(?!\s*$)/m)
    }
  })
})
