// dlite:vm-stopping (and dlite:vm-stopped, in case the VM went down without the first): stop answering and
// close the docker event stream before the docker socket goes away.
import {stop} from '../daemon-side.js'

export default async function hook(): Promise<void> {
  await stop()
}
