/**
 * A loopback TCP proxy that can drop every connection on demand, to cut the daemon's WebSocket the
 * way a flaky network does. It rewrites the Host header of each request to the target's, since the
 * server only answers to its own host:port (DNS-rebinding protection).
 */
import type { Socket, TCPSocketListener } from "bun"

interface Pair {
  client: Socket<Pair>
  upstream: Socket<Pair> | null
  toUpstream: Uint8Array[]
  toClient: Uint8Array[]
  head: Buffer | null
  closed: boolean
}

export interface CutProxy {
  readonly port: number
  readonly connections: number
  /** Connections accepted so far. */
  readonly accepted: number
  /** Drops every proxied connection now. */
  cutAll(): number
  /**
   * The next large daemon -> server chunk is forwarded only in part, then every connection drops.
   * Resolves with the number of bytes withheld.
   */
  cutMidFrame(): Promise<number>
  stop(): void
}

const CRLF2 = Buffer.from("\r\n\r\n")

export function startCutProxy(targetPort: number): CutProxy {
  const pairs = new Set<Pair>()
  let accepted = 0
  let midFrame: ((bytes: number) => void) | null = null

  const flush = (socket: Socket<Pair> | null, queue: Uint8Array[]) => {
    if (!socket) return
    while (queue.length > 0) {
      const head = queue[0]!
      const n = socket.write(head)
      if (n < head.length) {
        queue[0] = head.subarray(Math.max(0, n))
        return
      }
      queue.shift()
    }
  }
  const close = (pair: Pair) => {
    if (pair.closed) return
    pair.closed = true
    pairs.delete(pair)
    pair.client.terminate()
    pair.upstream?.terminate()
  }
  const forwardUp = (pair: Pair, bytes: Uint8Array) => {
    pair.toUpstream.push(bytes)
    flush(pair.upstream, pair.toUpstream)
  }

  const listener: TCPSocketListener<Pair> = Bun.listen<Pair>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        accepted += 1
        const pair: Pair = {
          client,
          upstream: null,
          toUpstream: [],
          toClient: [],
          head: Buffer.alloc(0),
          closed: false,
        }
        client.data = pair
        pairs.add(pair)
        Bun.connect<Pair>({
          hostname: "127.0.0.1",
          port: targetPort,
          data: pair,
          socket: {
            open(up) {
              if (pair.closed) return void up.terminate()
              pair.upstream = up
              flush(up, pair.toUpstream)
            },
            data(_up, chunk) {
              if (pair.closed) return
              pair.toClient.push(new Uint8Array(chunk))
              flush(pair.client, pair.toClient)
            },
            drain(up) {
              flush(up, pair.toUpstream)
            },
            close() {
              close(pair)
            },
            error() {
              close(pair)
            },
          },
        }).catch(() => close(pair))
      },
      data(client, chunk) {
        const pair = client.data
        if (pair.closed) return
        if (pair.head) {
          // Until the end of the HTTP request head: buffer, then point Host at the target.
          pair.head = Buffer.concat([pair.head, chunk])
          const end = pair.head.indexOf(CRLF2)
          if (end < 0) return
          let head = pair.head
            .subarray(0, end)
            .toString("latin1")
            .replace(/^host:.*$/im, `Host: 127.0.0.1:${targetPort}`)
          // Only the first request head is rewritten: plain HTTP gets one request per connection.
          if (!/^upgrade:\s*websocket/im.test(head))
            head = `${head.replace(/^connection:.*\r\n/gim, "")}\r\nConnection: close`
          const rest = pair.head.subarray(end)
          pair.head = null
          forwardUp(pair, Buffer.concat([Buffer.from(head, "latin1"), rest]))
          return
        }
        // An append frame (4 KiB payload at OVERLORD_CHUNK_BYTES=4096), not a small control message.
        if (midFrame && chunk.length > 1024) {
          const cut = midFrame
          midFrame = null
          const part = Math.floor(chunk.length / 2)
          forwardUp(pair, new Uint8Array(chunk.subarray(0, part)))
          // Give the partial bytes a moment to reach the server, then cut everything.
          setTimeout(() => {
            for (const p of [...pairs]) close(p)
            cut(chunk.length - part)
          }, 20)
          return
        }
        forwardUp(pair, new Uint8Array(chunk))
      },
      drain(client) {
        flush(client, client.data.toClient)
      },
      close(client) {
        close(client.data)
      },
      error(client) {
        close(client.data)
      },
    },
  })

  return {
    port: listener.port,
    get connections() {
      return pairs.size
    },
    get accepted() {
      return accepted
    },
    cutAll() {
      const n = pairs.size
      for (const p of [...pairs]) close(p)
      return n
    },
    cutMidFrame() {
      return new Promise<number>((resolve) => {
        midFrame = resolve
      })
    },
    stop() {
      for (const p of [...pairs]) close(p)
      listener.stop(true)
    },
  }
}
