/**
 * Child machines (issue #12 §4): a laptop's daemon syncs a Daytona sandbox's session files with the
 * laptop's machine token under a machine of the sandbox's own, on SQLite and on MariaDB. The server
 * accepts a child only for the token's own machine and user, lists it with its parent, and revoking
 * the parent revokes the child and closes its socket.
 */
import { type Api, encodeAppendFrame, Sync } from "@overlord/protocol"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EngineName, type Member, userLine, World } from "./accounts-world.ts"

/** A sync socket that says `hello` with `extra` (a child's `parent` and name) and appends one file. */
async function syncAs(world: World, token: string, machineId: string, extra: Partial<Sync.Hello>) {
  const ws = new WebSocket(`${world.url.replace("http", "ws")}/api/v1/sync`)
  const messages: Sync.ServerMessage[] = []
  const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)))
  ws.addEventListener("message", (e) => messages.push(JSON.parse(String(e.data)) as Sync.ServerMessage))
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error("sync socket failed"))
  })
  const hello: Sync.Hello = {
    type: "hello",
    protocolVersion: Sync.PROTOCOL_VERSION,
    daemonVersion: "test",
    machineId,
    machineName: "laptop",
    token,
    ...extra,
  }
  ws.send(JSON.stringify(hello))
  const waitFor = async (pred: (m: Sync.ServerMessage) => boolean, what: string) => {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = messages.find(pred)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no ${what}; got ${JSON.stringify(messages)}`)
      await Bun.sleep(5)
    }
  }
  let offset = 0
  return {
    ws,
    closed,
    waitFor,
    async append(sessionId: string, text: string) {
      const payload = new TextEncoder().encode(text)
      const header: Sync.AppendHeader = {
        type: "append",
        seq: 1,
        fileKey: `-home-dev-proj/${sessionId}.jsonl`,
        generation: 0,
        identity: "1:1",
        fromOffset: offset,
        toOffset: offset + payload.length,
      }
      ws.send(encodeAppendFrame(header, payload) as Uint8Array<ArrayBuffer>)
      offset += payload.length
      await waitFor((m) => m.type === "ack" || m.type === "rejected", "ack")
    },
  }
}

const LAPTOP_SID = "cccccccc-1111-4111-8111-000000000001"
const SANDBOX_SID = "cccccccc-2222-4222-8222-000000000002"
const sandbox = (parent: string): Partial<Sync.Hello> => ({
  machineName: "laptop/sandbox-proj",
  parent: { machineId: parent, kind: "sandbox" },
})

describe.each(["sqlite", "mariadb"] as EngineName[])("child machines (%s)", (name) => {
  let world: World
  let a: Member
  let b: Member
  let laptopToken: string
  let otherToken: string
  let bToken: string

  beforeAll(async () => {
    world = await World.start(name)
    a = await world.setupAdmin("a@example.com", "Alice")
    b = await world.invite(a, "b@example.com", "Bob")
    laptopToken = await world.sessionFor(a, "laptop-a", LAPTOP_SID, userLine(LAPTOP_SID, "l1", "on the laptop"))
    otherToken = await world.sessionFor(a, "desktop-a", LAPTOP_SID, userLine(LAPTOP_SID, "d1", "on the desktop"))
    bToken = await world.sessionFor(b, "laptop-b", LAPTOP_SID, userLine(LAPTOP_SID, "b1", "bob's"))
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  const machinesOf = async (member: Member) =>
    (
      (await world.call("/api/v1/machines", { cookie: member.cookie })).body as {
        machines: (Api.Machine & { revoked?: true })[]
      }
    ).machines

  it("the parent's token syncs the child under its own machine, listed with its parent", async () => {
    const sync = await syncAs(world, laptopToken, "laptop-a:sandbox:one", sandbox("laptop-a"))
    const welcome = (await sync.waitFor((m) => m.type === "welcome", "welcome")) as Sync.Welcome
    expect(welcome.cursors).toEqual([])
    await sync.append(SANDBOX_SID, userLine(SANDBOX_SID, "s1", "in the sandbox"))
    const child = (await machinesOf(a)).find((m) => m.machineId === "laptop-a:sandbox:one")
    expect(child).toMatchObject({
      name: "laptop/sandbox-proj",
      online: true,
      parent: { machineId: "laptop-a", kind: "sandbox" },
    })
    expect((await machinesOf(a)).find((m) => m.machineId === "laptop-a")?.parent).toBeUndefined()
    const session = (await world.call(`/api/v1/sessions/${SANDBOX_SID}`, { cookie: a.cookie }))
      .body as Api.SessionDetail
    expect(session.session.machineId).toBe("laptop-a:sandbox:one")
    sync.ws.close()
    await sync.closed
    // Again after a reconnect: the server's cursor for the child's file is where it stopped.
    const again = await syncAs(world, laptopToken, "laptop-a:sandbox:one", sandbox("laptop-a"))
    const back = (await again.waitFor((m) => m.type === "welcome", "welcome")) as Sync.Welcome
    expect(back.cursors.map((c) => c.fileKey)).toEqual([`-home-dev-proj/${SANDBOX_SID}.jsonl`])
    expect(back.cursors[0]!.offset).toBeGreaterThan(0)
    again.ws.close()
  })

  it("refuses a child claimed by another machine's token, another user's token, or over a real machine", async () => {
    const refusals: [string, string, Partial<Sync.Hello>][] = [
      // The desktop's token cannot speak for the laptop's sandbox, nor pose as the laptop.
      [otherToken, "laptop-a:sandbox:one", sandbox("laptop-a")],
      [otherToken, "laptop-a:sandbox:one", sandbox("desktop-a")],
      // Bob's token, for Alice's parent or as the parent of Alice's child uid.
      [bToken, "laptop-a:sandbox:one", sandbox("laptop-a")],
      // A child uid that is one of the user's real machines.
      [laptopToken, "desktop-a", sandbox("laptop-a")],
      // Its own parent.
      [laptopToken, "laptop-a", sandbox("laptop-a")],
    ]
    for (const [token, machineId, hello] of refusals) {
      const sync = await syncAs(world, token, machineId, hello)
      const refused = (await sync.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused
      expect(refused.code, `${machineId} ${JSON.stringify(hello)}`).toBe("unauthorized")
    }
    // Bob's own "child" of the same uid is his, not Alice's: users are apart.
    const bobs = await syncAs(world, bToken, "laptop-a:sandbox:one", sandbox("laptop-b"))
    await bobs.waitFor((m) => m.type === "welcome", "welcome")
    bobs.ws.close()
    expect((await machinesOf(a)).filter((m) => m.machineId === "laptop-a:sandbox:one")).toHaveLength(1)
    expect((await machinesOf(b)).find((m) => m.machineId === "laptop-a:sandbox:one")?.parent?.machineId).toBe(
      "laptop-b",
    )
  })

  it("revoking the parent revokes the child and closes its socket", async () => {
    const sync = await syncAs(world, laptopToken, "laptop-a:sandbox:two", sandbox("laptop-a"))
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    expect((await world.call("/api/v1/machines/laptop-a/revoke", { method: "POST", cookie: a.cookie })).status).toBe(
      204,
    )
    const refused = (await sync.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused
    expect(refused.code).toBe("unauthorized")
    await sync.closed
    const live = await machinesOf(a)
    expect(live.filter((m) => !m.revoked).map((m) => m.machineId)).toEqual(["desktop-a"])
    const again = await syncAs(world, laptopToken, "laptop-a:sandbox:one", sandbox("laptop-a"))
    expect(((await again.waitFor((m) => m.type === "refused", "refusal")) as Sync.Refused).code).toBe("unauthorized")
  })
})
