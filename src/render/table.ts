// Plain-text tables for terminal output (oclif 4 no longer ships one). The last column wraps to the
// terminal's width so long explanations stay readable.
export function renderTable(headers: string[], rows: string[][], width = process.stdout.columns || 120): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const lead = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0)
  const lastWidth = Math.max(20, Math.min(widths.at(-1) ?? 0, width - lead))
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd()
  const rowLines = (cells: string[]) => {
    const wrapped = wrap(cells.at(-1) ?? '', lastWidth)
    return wrapped.map((part, n) => line([...cells.slice(0, -1).map((c) => (n === 0 ? c : '')), part]))
  }
  return [
    line(headers),
    line([...widths.slice(0, -1), lastWidth].map((w) => '-'.repeat(w))),
    ...rows.flatMap(rowLines),
  ].join('\n')
}

export function wrap(text: string, width: number): string[] {
  const lines: string[] = []
  let current = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current)
      current = word
    } else {
      current = current ? `${current} ${word}` : word
    }
  }
  lines.push(current)
  return lines
}
