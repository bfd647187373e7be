/**
 * Found in security-audit (notes item 6): a device-flow request names its machine id itself; one that
 * claimed the id of a machine the user already has paired showed only the name it chose, and approving
 * it handed that machine's identity and queued remote commands to the requester. The server now refuses
 * such an approval; this is the page's half, in real Chromium against the bundled CLI's server and a
 * paired laptop's real daemon: the page names the paired machine the request claims, offers no
 * Approve, says how to re-pair, and Deny ends the request.
 */
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { chromiumMissing } from "@overlord/testkit/browser"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DashboardRig, startDashboardRig } from "../support/dashboard-rig.ts"

describe.skipIf(chromiumMissing())("device page for a request claiming a paired machine", () => {
  let rig: DashboardRig

  beforeAll(async () => {
    rig = await startDashboardRig("device-paired-machine")
  })

  afterAll(async () => {
    await rig?.stop()
  })

  it("names the paired machine, offers no Approve, and Deny ends the request", async () => {
    await rig.startLaptop()
    const { machineId } = JSON.parse(await readFile(join(rig.root, "laptop-home-1", "machine.json"), "utf8")) as {
      machineId: string
    }
    const auth = { authorization: `Bearer ${rig.admin.apiToken}` }
    const paired = await waitFor("the laptop among the machines", async () => {
      const res = await fetch(`${rig.server.url}/api/v1/machines`, { headers: auth })
      const { machines } = (await res.json()) as { machines: Api.Machine[] }
      return machines.find((m) => m.machineId === machineId)
    })

    const start = await fetch(`${rig.server.url}/api/v1/device/code`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ machineId, machineName: "new tablet" }),
    })
    expect(start.status).toBe(200)
    const { userCode } = (await start.json()) as Api.DeviceCode

    const page = await rig.ctx.newPage()
    await page.goto(`${rig.server.url}/device?code=${userCode}`)
    const warning = page.locator("[data-testid=device-paired-machine]")
    await warning.waitFor({ timeout: 15_000 })
    const text = await warning.innerText()
    expect(text).toContain(paired.name)
    expect(text).toContain("revoke")
    expect(await page.locator("[data-testid=device-approve]").count()).toBe(0)

    await page.locator("[data-testid=device-deny]").click()
    await page.locator("[data-testid=device-result][data-status=denied]").waitFor({ timeout: 10_000 })
  })
})
