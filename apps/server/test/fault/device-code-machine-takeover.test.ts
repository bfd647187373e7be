/**
 * Found in security-audit (notes item 6): a device-flow request names its machine id itself, so a
 * request approved by mistake could claim the id of a machine the approver already has paired; its
 * token then said hello as that machine and was handed the machine's queued remote commands. Now an
 * approval whose machine id is one of the approver's live machines is refused (409 `machine_paired`,
 * naming the machine and saying how to re-pair it: revoke it first); the request stays pending (it can be
 * denied) and delivers no token. A revoked machine's id can be paired again, as `overlord login` after a
 * revoke does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type EngineName, World } from "../accounts-world.ts"

describe.each<EngineName>(["sqlite", "mariadb"])("device flow and paired machines (%s)", (engine) => {
  let world: World
  beforeAll(async () => {
    world = await World.start(engine)
  }, 60_000)
  afterAll(async () => {
    await world?.close()
  })

  const requestCode = async (machineId: string, machineName: string) => {
    const code = await world.call("/api/v1/device/code", { body: { machineId, machineName } })
    expect(code.status).toBe(200)
    return code.body as { deviceCode: string; userCode: string }
  }

  it("approving a device code that claims a paired machine's id is refused and gives no token", async () => {
    const alice = await world.setupAdmin("alice@example.com", "Alice")
    const token = await world.pair(alice, "alice-laptop")
    const sync = await world.syncSocket(token, "alice-laptop")
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    sync.ws.close()
    await sync.closed

    // Someone else's request, carrying the id of Alice's laptop under an innocent name.
    const claim = await requestCode("alice-laptop", "Alice's new tablet")
    // The page is told before the approval is tried; a request for a new machine names none.
    const shown = await world.call(`/api/v1/device/${claim.userCode}`, { cookie: alice.cookie })
    expect(shown.body).toMatchObject({ status: "pending", machineName: "Alice's new tablet", pairedMachine: "laptop" })
    expect(shown.body).not.toHaveProperty("machineUid")
    const fresh = await requestCode("alice-tablet", "tablet")
    const freshShown = await world.call(`/api/v1/device/${fresh.userCode}`, { cookie: alice.cookie })
    expect(freshShown.body).toMatchObject({ status: "pending", machineName: "tablet" })
    expect(freshShown.body).not.toHaveProperty("pairedMachine")
    const approved = await world.call(`/api/v1/device/${claim.userCode}/approve`, {
      method: "POST",
      cookie: alice.cookie,
    })
    expect(approved.status).toBe(409)
    expect(approved.body).toMatchObject({ error: { code: "machine_paired" } })
    const message = (approved.body as { error: { message: string } }).error.message
    expect(message).toContain("laptop")
    expect(message).toContain("revoke")
    const poll = await world.call("/api/v1/device/token", { body: { deviceCode: claim.deviceCode } })
    expect((poll.body as { status?: string; token?: string }).token).toBeUndefined()
    expect(poll.status).not.toBe(200)
    // Still pending: the user can deny it.
    const denied = await world.call(`/api/v1/device/${claim.userCode}/deny`, { method: "POST", cookie: alice.cookie })
    expect(denied.status).toBe(200)
    expect(denied.body).toMatchObject({ status: "denied" })

    // A machine the user revoked can be paired again under its id (re-login after a revoke).
    expect(
      (await world.call("/api/v1/machines/alice-laptop/revoke", { method: "POST", cookie: alice.cookie })).status,
    ).toBe(204)
    const again = await requestCode("alice-laptop", "laptop")
    const ok = await world.call(`/api/v1/device/${again.userCode}/approve`, { method: "POST", cookie: alice.cookie })
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ status: "approved" })
  })
})
