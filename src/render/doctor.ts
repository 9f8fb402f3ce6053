import type {CheckStatus, DoctorReport} from '../doctor/checks.js'
import {renderTable} from './table.js'

const MARK: Record<CheckStatus, string> = {ok: 'ok', warn: 'warn', fail: 'FAIL'}

export function renderDoctorReport(report: DoctorReport): string {
  const rows = report.checks.map((c) => [MARK[c.status], c.title, c.detail])
  const fixes = report.checks
    .filter((c) => c.fix)
    .map((c) => `  ${c.title}: ${c.fix}`)
  const summary = report.ok
    ? `Ready: dlite start will use ${report.accelerator}.`
    : 'Not ready: fix the FAIL lines above, then run dlite doctor again.'
  return [renderTable(['STATUS', 'CHECK', 'DETAIL'], rows), '', ...(fixes.length ? ['Fixes:', ...fixes, ''] : []), summary].join('\n')
}
