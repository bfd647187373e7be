/**
 * Fault: the live hub re-checks a share before each page it sends to a grantee. When that check failed
 * (the database briefly unavailable), it counted as "withdrawn": the grantee's subscription was ended
 * and the dashboard told the share was gone, though it stood. A failed check now sends nothing and ends
 * nothing; the next wake-up sends what was held back.
 */
import { type Interface as StoreApi, StoreUnavailableError } from "@overlord/store"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { userLine, World } from "../accounts-world.ts"

const SID = "aaaaaaaa-cccc-4ccc-8ccc-000000000001"

/** While set, share checks fail as an unreachable database does. */
let failShareChecks = false
const flakyShares = (store: StoreApi): StoreApi => ({
  ...store,
  sharedSessionOwner: (actor, sessionId) =>
    failShareChecks
      ? Effect.fail(new StoreUnavailableError({ operation: "sharedSessionOwner", cause: new Error("connection lost") }))
      : store.sharedSessionOwner(actor, sessionId),
})

let world: World
beforeAll(async () => {
  world = await World.start("sqlite", flakyShares)
}, 60_000)
afterAll(async () => {
  await world?.close()
})

it("a share check the store cannot answer neither sends the page nor ends the subscription", async () => {
  const alice = await world.setupAdmin("alice@example.com", "Alice")
  const bob = await world.invite(alice, "bob@example.com", "Bob")
  const token = await world.pair(alice, "alice-laptop")
  const sync = await world.syncSocket(token, "alice-laptop")
  await sync.waitFor((m) => m.type === "welcome", "welcome")
  await sync.append(SID, userLine(SID, "u1", "first"))
  const shared = await world.call(`/api/v1/sessions/${SID}/shares`, {
    cookie: alice.cookie,
    body: { email: bob.email },
  })
  expect(shared.status).toBe(201)
  const onB = await world.liveSocket(bob, SID)
  const lines = () => onB.messages.flatMap((m) => (m.type === "entries" ? (m.entries ?? []).map((e) => e.line) : []))
  const deadline = Date.now() + 10_000
  while (!lines().some((l) => l.includes("first")) && Date.now() < deadline) await Bun.sleep(10)
  expect(lines().some((l) => l.includes("first"))).toBe(true)

  failShareChecks = true
  await sync.append(SID, userLine(SID, "u2", "second"))
  // Past the in-process wake-up, a feed poll and the 2 s share check.
  await Bun.sleep(2_600)
  expect(lines().some((l) => l.includes("second"))).toBe(false)
  expect(onB.messages.some((m) => m.type === "share-withdrawn")).toBe(false)

  failShareChecks = false
  await sync.append(SID, userLine(SID, "u3", "third"))
  const later = Date.now() + 10_000
  while (!lines().some((l) => l.includes("third")) && Date.now() < later) await Bun.sleep(10)
  // The held-back line comes with the next one, each once.
  expect(lines().filter((l) => l.includes("second") || l.includes("third"))).toHaveLength(2)
  expect(onB.messages.some((m) => m.type === "share-withdrawn")).toBe(false)
  for (const s of [onB.ws, sync.ws]) s.close()
})
