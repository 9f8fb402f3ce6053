export interface BenchRow {
  metric: string
  value: number
  unit: string
  baseline?: number
  baselineName?: string
  /** value / baseline (or baseline / value where bigger is better; the metric says which). */
  ratio?: number
  target?: string
  met?: boolean
}

export interface BenchResult {
  name: string
  /** How it was measured, for the results page. */
  method: string
  rows: BenchRow[]
  samples?: Record<string, number[]>
}
