// The start's stages as the CLI sees them: every stage event is logged, kept (a `watch` that connects late
// gets the history) and sent to every watcher until the start is decided.
import type {ControlResponse, StageEvent, StageName, VmStatus} from './control-protocol.js'

type Listener = (message: ControlResponse) => void

export class StageReporter {
  private readonly history: StageEvent[] = []
  private readonly watchers = new Set<Listener>()

  constructor(private readonly log: (line: string) => void) {}

  broadcast(message: ControlResponse): void {
    for (const listener of this.watchers) listener(message)
  }

  stage(stage: StageName, status: StageEvent['status'], detail?: string): void {
    const event: StageEvent = {type: 'stage', stage, status, detail, at: Date.now()}
    this.history.push(event)
    this.log(`stage ${stage} ${status}${detail ? `: ${detail}` : ''}`)
    this.broadcast(event)
  }

  async run<T>(stage: StageName, work: () => Promise<T>, detail?: (value: T) => string | undefined): Promise<T> {
    this.stage(stage, 'start')
    try {
      const value = await work()
      this.stage(stage, 'done', detail?.(value))
      return value
    } catch (error) {
      this.stage(stage, 'fail', (error as Error).message)
      throw error
    }
  }

  /** A `watch` request: the history, then the outcome now or when it comes. */
  watch(reply: Listener, status: VmStatus): void {
    for (const event of this.history) reply(event)
    if (status.state === 'running') reply({type: 'ready', status})
    else if (status.state === 'failed') reply({type: 'failed', error: status.lastError ?? 'start failed', status})
    else this.watchers.add(reply)
  }

  /** The start is decided: tell the watchers, then let them go. */
  decide(message: ControlResponse): void {
    this.broadcast(message)
    this.watchers.clear()
  }
}
