/**
 * Found in the walkthrough: `overlord serve` whose database is down (a typo in the port, a database
 * still starting) retries, as it should, but ignored Ctrl-C and SIGTERM while it did: the retry loop
 * ran inside the store layer's acquire, which is uninterruptible, so the process had to be killed
 * with SIGKILL (and a service stop waited for systemd's SIGKILL). The real bundled CLI.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "@overlord/testkit/standalone-server"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../support/harness.ts"

let root: string
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "overlord-serve-stop-"))
})
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true })
})

describe("overlord serve waiting for its database", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`stops on ${signal}`, async () => {
      // Nothing listens there: every attempt is refused at once and retried.
      const url = `mysql://overlord:secret@127.0.0.1:${freePort()}/overlord`
      const serve = runCli(join(root, signal), ["serve", "--port", "0", "--database-url", url])
      try {
        await waitFor("a retry", () => (serve.output().includes("retrying in") ? true : undefined), 30_000)
        serve.child.kill(signal)
        // Before the fix it never exited: the wait below ran out and the process was still retrying.
        const exited = await Promise.race([serve.exited, Bun.sleep(15_000).then(() => "still running" as const)])
        expect(exited, serve.output()).toBe(0)
      } finally {
        if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill("SIGKILL")
      }
    })
  }
})
