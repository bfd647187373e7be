/**
 * Finding 2 of issue #14: malformed percent-escapes in a path or a cookie, sent without
 * credentials, made Bun answer with its development error page (stack, source lines, working
 * directory), and any service on 127.0.0.1 can plant such a cookie. Against a real running server:
 * each probe gets a short 4xx (or is ignored), tells nothing of the server, and the dashboard
 * keeps working for a good cookie afterwards.
 */
import { SESSION_COOKIE } from "@overlord/server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DASHBOARD_MARKER, leaks, type RunningServer, startServer } from "./running-server.ts"

const MALFORMED = "%E0%A4%A"

let server: RunningServer
let cookie = ""

beforeAll(async () => {
  server = await startServer()
  cookie = await server.signIn()
})
afterAll(async () => {
  await server?.close()
})

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.url}${path}`, { headers, redirect: "manual" })
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" }
}

/** The dashboard and the API still answer a signed-in browser. */
async function expectDashboardWorks() {
  const page = await get("/", { cookie })
  expect(page.status).toBe(200)
  expect(page.body).toContain(DASHBOARD_MARKER)
  const api = await get("/api/v1/sessions", { cookie })
  expect(api.status).toBe(200)
  expect(JSON.parse(api.body)).toMatchObject({ sessions: [] })
}

describe("malformed input, unauthenticated", () => {
  it("answers a malformed escape in an asset path with a 400 that shows nothing of the server", async () => {
    for (const path of [`/assets/${MALFORMED}`, "/assets/%FF", `/assets/a${MALFORMED}.js`]) {
      const res = await get(path)
      expect(res.status, path).toBe(400)
      expect(leaks(res.body), path).toEqual([])
      expect(JSON.parse(res.body)).toMatchObject({ error: { code: "bad_request" } })
    }
    // A good asset is still served.
    expect((await get("/assets/app.js")).status).toBe(200)
    await expectDashboardWorks()
  })

  it("ignores a session cookie that is not valid percent-encoding, as if it were absent", async () => {
    const planted = { cookie: `${SESSION_COOKIE}=${MALFORMED}` }
    // The signed-out dashboard shell, as without a cookie; the API says to sign in.
    const page = await get("/", planted)
    expect(page.status).toBe(200)
    expect(page.body).toContain(DASHBOARD_MARKER)
    const api = await get("/api/v1/sessions", planted)
    expect(api.status).toBe(401)
    expect(leaks(api.body)).toEqual([])
    // Other cookies of the host (another local service's) around it change nothing either.
    expect(
      (await get("/api/v1/machines", { cookie: `other=${MALFORMED}; ${SESSION_COOKIE}=${MALFORMED}` })).status,
    ).toBe(401)
    await expectDashboardWorks()
  })

  it("still signs in the browser whose good cookie comes after a planted malformed one", async () => {
    for (const both of [`${SESSION_COOKIE}=${MALFORMED}; ${cookie}`, `${SESSION_COOKIE}=planted; ${cookie}`]) {
      const api = await get("/api/v1/sessions", { cookie: both })
      expect(api.status, both).toBe(200)
    }
  })
})

describe("malformed input, signed in", () => {
  it("answers a malformed escape in an API path with a 400 and a short message", async () => {
    for (const path of [
      "/api/v1/sessions/%FF/export",
      "/api/v1/sessions/%FF",
      `/api/v1/sessions/${MALFORMED}/entries`,
    ]) {
      const res = await get(path, { cookie })
      expect(res.status, path).toBe(400)
      expect(leaks(res.body), path).toEqual([])
      const body = JSON.parse(res.body) as { error: { code: string; message: string } }
      expect(body.error.code).toBe("bad_request")
      expect(body.error.message).toMatch(/malformed %-escape/)
    }
    // Malformed escapes in a query are kept as they are (URLSearchParams never throws): no failure.
    expect((await get(`/api/v1/sessions?q=${MALFORMED}`, { cookie })).status).toBe(200)
    expect((await get(`/api/v1/search?q=${MALFORMED}`, { cookie })).status).toBe(200)
    expect((await get(`/auth?token=${MALFORMED}`)).status).toBe(401)
    // Without credentials the same paths say to sign in, before anything is decoded.
    expect((await get("/api/v1/sessions/%FF/export")).status).toBe(401)
    await expectDashboardWorks()
  })
})

describe("unexpected failures", () => {
  it("answers a failure inside the server with a generic 500 that tells nothing of it", async () => {
    // A store that fails under every request: the database is closed under the running server.
    const broken = await startServer()
    const good = await broken.signIn()
    broken.engine.close()
    try {
      for (const [path, headers] of [
        ["/api/v1/sessions", { cookie: good }],
        ["/", { cookie: good }],
        ["/api/v1/sessions", { authorization: "Bearer whatever" }],
      ] as const) {
        const res = await fetch(`${broken.url}${path}`, { headers })
        const body = await res.text()
        expect(res.status, path).toBe(500)
        expect(leaks(body), path).toEqual([])
        expect(body).not.toMatch(/closed/i)
        expect(JSON.parse(body)).toEqual({
          error: { code: "internal", message: "internal server error; the server's log has the details" },
        })
      }
    } finally {
      await broken.close().catch(() => undefined)
    }
  })
})
