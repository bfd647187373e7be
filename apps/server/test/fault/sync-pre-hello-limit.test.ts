/**
 * Found in security-audit (notes item 3): anyone reaching the server's port could open any number of
 * sync sockets (they need no Origin and no credential until their hello) and hold each 10 s before the
 * hello timeout ended it. Now an address holds at most `MAX_PENDING_SYNC_PER_ADDRESS` sockets that have
 * not said a good hello; the upgrade past it is refused (429). A socket that said hello no longer counts,
 * and a closed one frees its place.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { MAX_PENDING_SYNC_PER_ADDRESS } from "../../src/app.ts"
import { World } from "../accounts-world.ts"

let world: World
beforeAll(async () => {
  world = await World.start("sqlite")
}, 60_000)
afterAll(async () => {
  await world?.close()
})

/** A sync socket that says nothing: resolves once open, or with "refused" if the upgrade fails. */
const rawSocket = (): Promise<WebSocket | "refused"> =>
  new Promise((resolve) => {
    const ws = new WebSocket(`${world.url.replace("http", "ws")}/api/v1/sync`)
    ws.onopen = () => resolve(ws)
    ws.onerror = () => resolve("refused")
  })

it("an address holds a bounded number of sync sockets that have not said hello", async () => {
  const alice = await world.setupAdmin("alice@example.com", "Alice")
  const token = await world.pair(alice, "alice-laptop")

  const silent: WebSocket[] = []
  try {
    for (let i = 0; i < MAX_PENDING_SYNC_PER_ADDRESS - 1; i++) {
      const ws = await rawSocket()
      expect(ws, `socket ${i}`).not.toBe("refused")
      silent.push(ws as WebSocket)
    }
    // The last place, taken by a daemon that says hello: once welcomed it no longer counts.
    const daemon = await world.syncSocket(token, "alice-laptop")
    await daemon.waitFor((m) => m.type === "welcome", "welcome")
    const last = await rawSocket()
    expect(last).not.toBe("refused")
    silent.push(last as WebSocket)

    // Full: the next one is refused, and the welcomed daemon is untouched.
    expect(await rawSocket()).toBe("refused")
    expect(daemon.ws.readyState).toBe(WebSocket.OPEN)

    // A closed one frees its place.
    const closing = silent.pop()!
    const closed = new Promise((resolve) => closing.addEventListener("close", resolve))
    closing.close()
    await closed
    let again: WebSocket | "refused" = "refused"
    const deadline = Date.now() + 5_000
    while (again === "refused" && Date.now() < deadline) again = await rawSocket()
    expect(again).not.toBe("refused")
    silent.push(again as WebSocket)
    daemon.ws.close()
  } finally {
    for (const ws of silent) ws.close()
  }
})
