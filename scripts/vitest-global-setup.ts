/** Every suite runs the daemon as users do, from the bundle: build it once, from the current sources. */
import { buildDaemon } from "./build-daemon.ts"

export async function setup(): Promise<void> {
  await buildDaemon()
}
