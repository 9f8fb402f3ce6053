// The kit is the one implementation of what the core and the plugins share. These checks fail when a copy
// creeps back: a plugin spawning programs, renaming files or extending oclif's Command itself, a plugin
// package that does not carry the kit, or a command class that skips the kit's base.
import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const PLUGINS = ['dns', 'routing']

function sources(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
}

describe('the kit, used for real', () => {
  for (const plugin of PLUGINS) {
    const root = join(REPO, 'plugins', plugin)

    it(`${plugin}: depends on dlite-kit, bundles it in its tarball, and puts it there before packing`, () => {
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {dependencies: Record<string, string>; bundleDependencies?: string[]; scripts: Record<string, string>}
      const kit = JSON.parse(readFileSync(join(REPO, 'packages', 'kit', 'package.json'), 'utf8')) as {version: string}
      expect(pkg.dependencies['dlite-kit']).to.equal(kit.version)
      expect(pkg.bundleDependencies).to.include('dlite-kit')
      expect(pkg.scripts.prepack).to.contain('bundle-kit.js add')
      expect(pkg.scripts.postpack).to.contain('bundle-kit.js remove')
    })

    it(`${plugin}: runs programs, writes files and builds commands only through the kit`, () => {
      for (const file of sources(join(root, 'src'))) {
        const text = readFileSync(file, 'utf8')
        const name = relative(REPO, file)
        expect(text, name).not.to.match(/from 'node:child_process'/)
        expect(text, name).not.to.match(/\brename(Sync)?\(/)
        expect(text, name).not.to.match(/\bextends Command\b/)
        expect(text, name).not.to.match(/pathToFileURL\(join\(config\.root/)
      }
    })
  }

  it('every core command builds on the kit (through DliteCommand)', () => {
    for (const file of sources(join(REPO, 'src', 'commands'))) {
      const text = readFileSync(file, 'utf8')
      expect(text, relative(REPO, file)).not.to.match(/\bextends Command\b/)
      expect(text, relative(REPO, file)).not.to.match(/process\.stdout\.isTTY \? 'default'/)
    }
    expect(readFileSync(join(REPO, 'src', 'base-command.ts'), 'utf8')).to.match(/class DliteCommand extends KitCommand/)
  })
})
