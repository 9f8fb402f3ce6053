// The guest's clock against the host's, read from a running container (busybox adjtimex: with STA_NANO its
// tv_usec is nanoseconds). As NTP does, the offset is taken against the middle of two host readings, give or
// take half the gap; the best of a few reads is kept, since docker exec under TCG does not always take as long.
import type {RunResult} from './netns.js'

export interface ClockOffset {
  offsetMs: number
  halfGapMs: number
}

export async function guestClockOffset(exec: (args: string[]) => Promise<RunResult>, reads = 3): Promise<ClockOffset> {
  const results: ClockOffset[] = []
  for (let i = 0; i < reads; i++) {
    const hostBefore = Date.now()
    const read = await exec(['adjtimex'])
    const hostAfter = Date.now()
    const field = (name: string) => Number(new RegExp(`${name.replace('.', '\\.')}:\\s+(\\d+)`).exec(read.stdout)?.[1])
    const guest = field('time.tv_sec') * 1000 + field('time.tv_usec') / ((field('status') & 0x2000) !== 0 ? 1e6 : 1e3)
    results.push({offsetMs: guest - (hostBefore + hostAfter) / 2, halfGapMs: (hostAfter - hostBefore) / 2})
  }
  return results.sort((a, b) => a.halfGapMs - b.halfGapMs)[0]
}
