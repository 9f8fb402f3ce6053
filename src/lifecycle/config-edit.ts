// `dlite edit`: the changeable settings as KEY=VALUE lines in the user's editor, then checked and written exactly
// as `dlite config set` would (every problem at once; nothing written on any). The file the editor sees is a
// private copy (0600) in a fresh temporary directory, removed afterwards.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {DliteConfig} from '../config/index.js'
import {settingValues} from './config-change.js'

export function settingsText(config: DliteConfig, home: string): string {
  return [
    `# dlite settings of ${home}. Change values and save; dlite checks them before it writes anything.`,
    '# Lines starting with # are ignored. A running VM takes changes at its next start (dlite restart).',
    ...Object.entries(settingValues(config)).map(([key, value]) => `${key}=${value}`),
    '',
  ].join('\n')
}

/** The KEY=VALUE pairs of an edited file: comments and blank lines dropped, one pair per line. */
export function parseSettingsText(text: string): string[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'))
}

/** The editor the user chose ($VISUAL, then $EDITOR), or undefined. */
export function chosenEditor(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.VISUAL, env.EDITOR].find((e) => e && e.trim() !== '')
}

/**
 * Opens `text` in `editor` (a command line, as $EDITOR may be `code --wait`) and returns what was saved.
 * The editor runs through sh with the file as its last argument, on the user's terminal.
 */
export function editText(editor: string, text: string): {text: string; exitCode: number} {
  const dir = mkdtempSync(join(tmpdir(), 'dlite-edit-'))
  const file = join(dir, 'settings.conf')
  try {
    writeFileSync(file, text, {mode: 0o600})
    const result = spawnSync('sh', ['-c', `${editor} "$1"`, 'sh', file], {stdio: 'inherit'})
    return {text: readFileSync(file, 'utf8'), exitCode: result.status ?? 1}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
