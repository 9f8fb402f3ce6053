// oclif's zsh completion writes each command's summary (its description when it has none), each flag's and
// each topic's text into double-quoted strings and escapes only quotes, backticks and brackets: a `$(...)` or
// `$VAR` there runs in the user's shell on every completion, and ejs renders `<%`. So no such text may hold
// `$`, and backticks stay out too (the bash script leaves them to the shell as well).
import {expect} from 'chai'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

interface ManifestCommand {summary?: string; description?: string; flags?: Record<string, {summary?: string; description?: string}>}

const root = join(import.meta.dirname, '..', '..')
const pluginDirs = readdirSync(join(root, 'plugins')).map((name) => join(root, 'plugins', name))

/** Every text a completion script takes, named by where it comes from. */
function completionTexts(): Array<[string, string]> {
  const texts: Array<[string, string]> = []
  for (const dir of [root, ...pluginDirs]) {
    const manifest = JSON.parse(readFileSync(join(dir, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestCommand>}
    for (const [id, command] of Object.entries(manifest.commands)) {
      texts.push([`${id} summary`, command.summary ?? (command.description ?? '').split('\n')[0]])
      for (const [name, flag] of Object.entries(command.flags ?? {})) texts.push([`${id} --${name}`, flag.summary ?? flag.description ?? ''])
    }
    const topics = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {oclif?: {topics?: Record<string, {description?: string}>}}).oclif?.topics ?? {}
    for (const [name, topic] of Object.entries(topics)) texts.push([`topic ${name}`, topic.description ?? ''])
  }
  return texts
}

describe('completion text', () => {
  it('covers the core and every bundled plugin', () => {
    const ids = completionTexts().map(([where]) => where)
    expect(ids).to.include('start summary').and.include('env --shell').and.include('dns:enable --upstream').and.include('topic routing')
  })

  it('holds nothing a shell or ejs would run: no $, no backtick, no <%', () => {
    const unsafe = completionTexts().filter(([, text]) => /[$`]|<%/.test(text))
    expect(unsafe, 'rephrase these (e.g. "dlite env" for `dlite env`, "the SHELL variable" for $SHELL)').to.deep.equal([])
  })
})
