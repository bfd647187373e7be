/**
 * Fault: machines redeeming one pairing key at the same moment (a fleet paired with a multi-use key, or
 * two machines racing for a single-use one) on MySQL/MariaDB. The redemption read the key's row with a
 * lock, and the waiting redemptions, queued on the `tokens` index, made InnoDB refuse the winner's INSERT
 * of the machine token as a deadlock: the server answered 500 and that machine stayed unpaired. The key
 * is now spent by one conditional UPDATE (`account-queries.ts`, `redeemPairingKey`).
 */
import type { Api } from "@overlord/protocol"
import { afterAll, beforeAll, expect, it } from "vitest"
import { World } from "../accounts-world.ts"

let world: World
beforeAll(async () => {
  world = await World.start("mariadb")
}, 60_000)
afterAll(async () => {
  await world?.close()
})

/** Machines redeeming `key` at once; each answer's status and machine token. */
const redeemAtOnce = (key: string, machineIds: readonly string[]) =>
  Promise.all(
    machineIds.map(async (machineId) => {
      const answer = await world.call("/api/v1/pairing-keys/redeem", {
        body: { key, machineId, machineName: machineId },
      })
      return { status: answer.status, token: (answer.body as Partial<Api.MachineCredential>).token }
    }),
  )

const newKey = async (cookie: string, singleUse: boolean) => {
  const made = await world.call("/api/v1/pairing-keys", { cookie, body: { singleUse, ttlMinutes: 5 } })
  expect(made.status).toBe(201)
  return (made.body as Api.CreatedPairingKey).key
}

it("a fleet redeeming one multi-use key at once is paired whole; a single-use key pairs one of its racers", async () => {
  const admin = await world.setupAdmin()
  // Several rounds, within the 60 unauthenticated requests an address may make at once (`RateLimiter`).
  // Before the fix, some round lost redemptions to deadlocks (503) in 2 of 3 runs.
  for (let round = 0; round < 5; round++) {
    const fleet = Array.from({ length: 8 }, (_, i) => `fleet-${round}-${i}`)
    const paired = await redeemAtOnce(await newKey(admin.cookie, false), fleet)
    expect(paired.map((p) => p.status)).toEqual(Array(8).fill(200))
    // Each machine's own token: a machine token of its own machine.
    expect(new Set(paired.map((p) => p.token)).size).toBe(8)
    const sync = await world.syncSocket(paired[0]!.token!, fleet[0]!)
    await sync.waitFor((m) => m.type === "welcome", "welcome")
    sync.ws.close()
  }
  for (let round = 0; round < 2; round++) {
    const racers = Array.from({ length: 6 }, (_, i) => `racer-${round}-${i}`)
    const raced = await redeemAtOnce(await newKey(admin.cookie, true), racers)
    expect(raced.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401])
  }
})
