// Splits a string into arguments the way a POSIX shell would (quotes and backslashes, no expansion),
// so `-e "--label 'a b'"` means the same as it would after `dockerd` on a command line.

export class ShellSplitError extends Error {}

export function splitShellWords(text: string): string[] {
  const words: string[] = []
  let current = ''
  let inWord = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (quote === "'") {
      if (ch === "'") quote = undefined
      else current += ch
      continue
    }
    if (quote === '"') {
      if (ch === '"') quote = undefined
      else if (ch === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) current += text[++i]
      else current += ch
      continue
    }
    if (ch === "'" || ch === '"') {
      quote = ch
      inWord = true
    } else if (ch === '\\') {
      if (i + 1 >= text.length) throw new ShellSplitError('a trailing backslash escapes nothing')
      current += text[++i]
      inWord = true
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current)
      current = ''
      inWord = false
    } else {
      current += ch
      inWord = true
    }
  }
  if (quote) throw new ShellSplitError(`unterminated ${quote === '"' ? 'double' : 'single'} quote`)
  if (inWord) words.push(current)
  return words
}
