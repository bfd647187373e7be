/** `overlord daytona snapshot`: the image definition reaches Daytona as a Dockerfile, through the real SDK. */
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CLAUDE_CODE_VERSION, DEFAULT_SNAPSHOT } from "../../src/remote/daytona-image.ts"
import { buildSandboxSnapshot } from "../../src/remote/daytona-snapshot.ts"

describe("daytona snapshot", () => {
  let fake: FakeDaytona
  beforeAll(async () => {
    fake = await startFakeDaytona()
  })
  afterAll(async () => {
    await fake?.stop()
  })

  it("builds the snapshot from the image definition, once", async () => {
    const connection = { apiUrl: fake.apiUrl, apiKey: fake.apiKey, statePolling: true }
    const logs: string[] = []
    const built = await buildSandboxSnapshot(connection, { onLogs: (l) => logs.push(l) })
    expect(built).toMatchObject({ name: DEFAULT_SNAPSHOT, state: "active", created: true })
    expect(built.dockerfile).toContain("FROM node:22-bookworm-slim")
    expect(built.dockerfile).toContain(`@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`)
    expect(built.dockerfile).toContain('ENTRYPOINT ["sleep", "infinity"]')

    const posts = fake.requests.filter((r) => r.plane === "api" && r.method === "POST" && r.path === "/snapshots")
    expect(posts).toHaveLength(1)
    const body = JSON.parse(posts[0]!.body) as { name: string; buildInfo: { dockerfileContent: string } }
    expect(body.name).toBe(DEFAULT_SNAPSHOT)
    expect(body.buildInfo.dockerfileContent).toBe(built.dockerfile)
    expect(fake.snapshots.get(DEFAULT_SNAPSHOT)?.dockerfileContent).toBe(built.dockerfile)
    expect(logs.some((l) => l.includes(DEFAULT_SNAPSHOT))).toBe(true)

    const again = await buildSandboxSnapshot(connection)
    expect(again.created).toBe(false)
    expect(fake.requests.filter((r) => r.method === "POST" && r.path === "/snapshots")).toHaveLength(1)
    expect(fake.errors).toEqual([])
  })
})
