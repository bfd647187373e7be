/**
 * A labelled corpus for semantic search (issue #13): 32 coding sessions on distinct topics, written as
 * Claude Code transcript files (the real JSONL record shapes: user prompts, assistant messages with
 * text and tool_use blocks, tool_result records, cwd, timestamps, usage), 13 lines each; and for each
 * topic two queries: one in the session's own words, one paraphrased in words the session never uses.
 */

export interface Topic {
  readonly id: string
  readonly project: string
  /** Three user prompts. */
  readonly prompts: readonly [string, string, string]
  /** Three assistant answers. */
  readonly replies: readonly [string, string, string]
  readonly file: string
  readonly command: string
  /** Words of the session itself, all in one of its lines (full-text search matches entries). */
  readonly keywordQuery: string
  /** The same need in other words: no word of it occurs in the session. */
  readonly paraphraseQuery: string
}

export const TOPICS: readonly Topic[] = [
  {
    id: "postgres-migration",
    project: "billing",
    prompts: [
      "Add a migration that creates the invoices table in Postgres with a foreign key to customers.",
      "The migration should also backfill the currency column from the customers table.",
      "Run the migration against the local database and check the rollback works.",
    ],
    replies: [
      "I created migrations/0042_invoices.sql with the table, the foreign key and an index on customer_id.",
      "The backfill now copies currency from customers in batches of 10,000 rows inside the migration.",
      "The migration applied cleanly and the down migration dropped the table again without errors.",
    ],
    file: "migrations/0042_invoices.sql",
    command: "psql -f migrations/0042_invoices.sql",
    keywordQuery: "invoices table Postgres",
    paraphraseQuery: "alter relational schema creating new financial records storage",
  },
  {
    id: "flaky-upload-test",
    project: "uploader",
    prompts: [
      "The upload test fails randomly on CI, about one run in five. Can you find out why?",
      "So the test does not wait for the multipart stream to finish before asserting?",
      "Please fix the test so it awaits the stream end event.",
    ],
    replies: [
      "The upload test asserts on the bucket before the multipart stream has flushed its last part.",
      "Yes, the assertion races the stream: on a loaded CI runner the last part arrives late.",
      "The test now awaits the finish event and passed 200 times in a row locally.",
    ],
    file: "test/upload.test.ts",
    command: "npx vitest run test/upload.test.ts --repeat 200",
    keywordQuery: "upload test CI",
    paraphraseQuery: "intermittent nondeterministic spec breaking pipeline",
  },
  {
    id: "dark-mode",
    project: "webapp",
    prompts: [
      "Add a dark theme toggle to the settings page that remembers the choice.",
      "Use CSS variables for the colors so both themes share the stylesheet.",
      "Respect prefers-color-scheme when the user never picked a theme.",
    ],
    replies: [
      "I added a theme toggle to Settings.tsx that stores the choice in localStorage.",
      "The colors are now CSS variables on :root, overridden under [data-theme=dark].",
      "Without a stored choice the app follows prefers-color-scheme through a media query listener.",
    ],
    file: "src/Settings.tsx",
    command: "npm run build",
    keywordQuery: "dark theme toggle",
    paraphraseQuery: "night colour palette switch appearance preference",
  },
  {
    id: "memory-leak",
    project: "api-server",
    prompts: [
      "The Node process grows to 2 GB of heap after a day. Help me find the leak.",
      "The heap snapshot shows thousands of retained EventEmitter listeners.",
      "Remove the listeners when the request closes.",
    ],
    replies: [
      "Let me take two heap snapshots an hour apart and compare the retained objects.",
      "Each request adds a listener to the shared cache emitter and never removes it.",
      "The handler now removes its listener on close; heap stays flat at 180 MB after the soak test.",
    ],
    file: "src/cache.ts",
    command: "node --inspect dist/server.js",
    keywordQuery: "heap leak",
    paraphraseQuery: "ram consumption keeps climbing until crash",
  },
  {
    id: "docker-image-size",
    project: "deploy",
    prompts: [
      "Our Docker image is 1.8 GB. Make it smaller.",
      "Use a multi-stage build with a slim runtime image.",
      "Check that the container still starts and serves health checks.",
    ],
    replies: [
      "Most of the size comes from the build toolchain and node_modules with dev dependencies.",
      "The Dockerfile now builds in one stage and copies only dist and production modules into a slim image.",
      "The image is 142 MB and the container answers the health endpoint.",
    ],
    file: "Dockerfile",
    command: "docker build -t app:slim .",
    keywordQuery: "Docker image smaller",
    paraphraseQuery: "shrink deployable bundle footprint megabytes",
  },
  {
    id: "oauth-login",
    project: "auth",
    prompts: [
      "Add sign in with GitHub using OAuth to the login page.",
      "Store the access token encrypted and never send it to the browser.",
      "Handle the case where the user denies the consent screen.",
    ],
    replies: [
      "I registered the callback route and exchange the code for a token on the backend.",
      "Tokens are encrypted with the server key before they are written to the sessions table.",
      "A denied consent now redirects back to the login page with a friendly message.",
    ],
    file: "src/routes/oauth.ts",
    command: "curl -i localhost:3000/auth/github",
    keywordQuery: "GitHub OAuth login",
    paraphraseQuery: "third party identity provider authentication flow",
  },
  {
    id: "csv-export",
    project: "reports",
    prompts: [
      "Users want to export the monthly report as a CSV file.",
      "Quote fields that contain commas and newlines correctly.",
      "Stream the rows instead of building the whole file in memory.",
    ],
    replies: [
      "I added an export button that downloads report.csv with a header row.",
      "Fields with commas, quotes or newlines are now wrapped in double quotes and escaped.",
      "The endpoint streams rows from the cursor, so a million rows use constant memory.",
    ],
    file: "src/export.ts",
    command: "curl -o report.csv localhost:3000/reports/export",
    keywordQuery: "export report CSV",
    paraphraseQuery: "download spreadsheet comma separated values",
  },
  {
    id: "rate-limiter",
    project: "gateway",
    prompts: [
      "Add rate limiting to the public API: 100 requests per minute per key.",
      "Use a token bucket in Redis so all instances share the limit.",
      "Return 429 with a Retry-After header when the bucket is empty.",
    ],
    replies: [
      "I added a middleware that counts requests per API key.",
      "The token bucket lives in Redis and is refilled with a Lua script for atomicity.",
      "Throttled requests now get 429 Too Many Requests with Retry-After in seconds.",
    ],
    file: "src/middleware/ratelimit.ts",
    command: "redis-cli monitor",
    keywordQuery: "rate limiting API",
    paraphraseQuery: "throttle abusive clients quota",
  },
  {
    id: "i18n",
    project: "webapp",
    prompts: [
      "Translate the checkout flow into German and French.",
      "Extract the hard-coded strings into message catalogs.",
      "Format prices with the locale's currency rules.",
    ],
    replies: [
      "I set up i18next and created de.json and fr.json catalogs.",
      "All strings in the checkout components now come from the catalogs by key.",
      "Prices use Intl.NumberFormat with the active locale, so 1.234,56 € shows in German.",
    ],
    file: "src/locales/de.json",
    command: "npm run i18n:extract",
    keywordQuery: "checkout German French",
    paraphraseQuery: "localization multilingual language support",
  },
  {
    id: "graphql-n-plus-one",
    project: "api-server",
    prompts: [
      "The GraphQL query for posts with authors issues hundreds of SQL queries.",
      "Batch the author lookups with DataLoader.",
      "Add a test that counts the queries for one request.",
    ],
    replies: [
      "Each post resolver fetches its author separately: the classic N+1 problem.",
      "An author DataLoader per request now batches the lookups into one IN query.",
      "The new test asserts that the posts query runs exactly two SQL statements.",
    ],
    file: "src/graphql/resolvers.ts",
    command: "npm test -- resolvers",
    keywordQuery: "GraphQL authors queries",
    paraphraseQuery: "too many database roundtrips slow endpoint",
  },
  {
    id: "cron-backup",
    project: "ops",
    prompts: [
      "Set up a nightly backup of the database to S3.",
      "Keep 30 daily backups and delete older ones.",
      "Alert on Slack when a backup fails.",
    ],
    replies: [
      "A cron job at 02:00 runs pg_dump and uploads the compressed dump to the backups bucket.",
      "An S3 lifecycle rule expires objects after 30 days.",
      "The script posts to the Slack webhook when pg_dump or the upload exits non-zero.",
    ],
    file: "scripts/backup.sh",
    command: "crontab -l",
    keywordQuery: "nightly backup S3",
    paraphraseQuery: "scheduled snapshot archive disaster recovery",
  },
  {
    id: "websocket-reconnect",
    project: "chat",
    prompts: [
      "The chat client loses messages when the WebSocket disconnects.",
      "Reconnect with exponential backoff and resume from the last message id.",
      "Show a banner while the connection is down.",
    ],
    replies: [
      "Messages sent while the socket is closed are dropped because nothing queues them.",
      "The client now reconnects with backoff and asks the server for messages after the last id.",
      "A reconnecting banner appears after two seconds offline and hides when the socket opens.",
    ],
    file: "src/socket.ts",
    command: "npm run dev",
    keywordQuery: "WebSocket messages disconnects",
    paraphraseQuery: "realtime link drops connectivity resilience",
  },
  {
    id: "pdf-invoices",
    project: "billing",
    prompts: [
      "Generate PDF invoices with the company logo and line items.",
      "Embed the fonts so the PDF looks the same everywhere.",
      "Attach the PDF to the confirmation email.",
    ],
    replies: [
      "I render the invoice template with pdfkit, logo at the top and a table of line items.",
      "The fonts are now embedded subsets, so viewers without them render identically.",
      "The mailer attaches invoice.pdf to the order confirmation.",
    ],
    file: "src/pdf/invoice.ts",
    command: "node scripts/render-invoice.js",
    keywordQuery: "PDF invoices logo",
    paraphraseQuery: "printable document generation receipts",
  },
  {
    id: "search-autocomplete",
    project: "webapp",
    prompts: [
      "Add autocomplete suggestions to the search box.",
      "Debounce the input so we do not query on every keystroke.",
      "Highlight the matching prefix in each suggestion.",
    ],
    replies: [
      "The search box now shows a dropdown of suggestions from the /suggest endpoint.",
      "Input is debounced by 150 ms and stale responses are ignored.",
      "The matching prefix is wrapped in a mark element.",
    ],
    file: "src/SearchBox.tsx",
    command: "npm run storybook",
    keywordQuery: "autocomplete suggestions",
    paraphraseQuery: "typeahead hints while typing",
  },
  {
    id: "kubernetes-probes",
    project: "deploy",
    prompts: [
      "Pods restart in a loop after deploys. Look at the Kubernetes manifests.",
      "The liveness probe hits the database; make it cheap.",
      "Add a readiness probe that waits for migrations.",
    ],
    replies: [
      "The liveness probe times out during startup, so the kubelet kills the pod before it is ready.",
      "Liveness now checks only that the process answers; the database check moved to readiness.",
      "Readiness returns 503 until migrations have finished, so traffic waits.",
    ],
    file: "k8s/deployment.yaml",
    command: "kubectl describe pod api-7d9f",
    keywordQuery: "Pods Kubernetes manifests",
    paraphraseQuery: "cluster orchestration crashing repeatedly healthcheck",
  },
  {
    id: "image-thumbnails",
    project: "media",
    prompts: [
      "Create thumbnails for uploaded photos in three sizes.",
      "Do the resizing in a background job, not in the request.",
      "Keep the EXIF orientation so portrait photos are not rotated.",
    ],
    replies: [
      "I use sharp to produce 128, 512 and 1024 pixel thumbnails.",
      "Uploads enqueue a job; the worker resizes and stores the thumbnails.",
      "sharp's rotate() applies the EXIF orientation before resizing.",
    ],
    file: "src/jobs/thumbnails.ts",
    command: "node dist/worker.js",
    keywordQuery: "thumbnails photos",
    paraphraseQuery: "smaller picture previews scaling",
  },
  {
    id: "typescript-strict",
    project: "webapp",
    prompts: [
      "Turn on strict mode in tsconfig and fix the errors.",
      "Most errors are possibly undefined values from array indexing.",
      "Do not use non-null assertions to silence them.",
    ],
    replies: [
      "Enabling strict reports 214 errors, mostly implicit any and nullable values.",
      "I added guards where an index may be out of range and narrowed the types.",
      "No non-null assertions were added; each case is handled or typed properly.",
    ],
    file: "tsconfig.json",
    command: "npx tsc --noEmit",
    keywordQuery: "strict tsconfig errors",
    paraphraseQuery: "stricter compiler typing checks",
  },
  {
    id: "email-bounces",
    project: "mailer",
    prompts: [
      "Handle bounced emails from SES and stop sending to those addresses.",
      "Subscribe to the SNS topic for bounce and complaint notifications.",
      "Mark hard bounces as undeliverable in the users table.",
    ],
    replies: [
      "SES publishes bounces to SNS; I added an endpoint that verifies and parses them.",
      "The SNS subscription is confirmed automatically and the signature is checked.",
      "Hard bounces set email_undeliverable and the mailer skips those users.",
    ],
    file: "src/ses-bounces.ts",
    command: "aws sns list-subscriptions",
    keywordQuery: "bounced SES",
    paraphraseQuery: "undelivered mail returned sender",
  },
  {
    id: "feature-flags",
    project: "platform",
    prompts: [
      "Introduce feature flags so we can ship the new editor behind a toggle.",
      "Flags should be evaluated per organization.",
      "Add an admin page to flip flags without a deploy.",
    ],
    replies: [
      "A flags table stores each flag with a default and per-organization overrides.",
      "isEnabled(flag, org) checks the override first, then the default.",
      "The admin page lists flags and updates overrides immediately.",
    ],
    file: "src/flags.ts",
    command: "npm run migrate",
    keywordQuery: "feature flags editor",
    paraphraseQuery: "gradual rollout switch experiments",
  },
  {
    id: "regex-parser-bug",
    project: "parser",
    prompts: [
      "The log parser hangs on some lines. I suspect the regular expression.",
      "Rewrite the pattern without nested quantifiers.",
      "Add the pathological line as a test case.",
    ],
    replies: [
      "The pattern (a+)+ backtracks catastrophically on long lines without a match.",
      "The new pattern uses a possessive-free linear form and runs in microseconds.",
      "The pathological 10 KB line is now a regression test.",
    ],
    file: "src/log-parser.ts",
    command: "node bench/parse.js",
    keywordQuery: "parser regular expression",
    paraphraseQuery: "string matching freezes exponential time",
  },
  {
    id: "payments-webhook",
    project: "billing",
    prompts: [
      "Stripe webhooks sometimes arrive twice and we charge twice.",
      "Make the webhook handler idempotent using the event id.",
      "Verify the webhook signature before doing anything.",
    ],
    replies: [
      "Stripe retries deliveries, and the handler processes each delivery as new.",
      "Processed event ids are stored with a unique constraint; duplicates return 200 without work.",
      "The handler verifies the Stripe-Signature header with the endpoint secret first.",
    ],
    file: "src/stripe-webhook.ts",
    command: "stripe listen --forward-to localhost:3000/webhooks/stripe",
    keywordQuery: "Stripe webhooks twice",
    paraphraseQuery: "duplicate payment customers paid double",
  },
  {
    id: "react-performance",
    project: "webapp",
    prompts: [
      "The product table rerenders on every keystroke and feels sluggish.",
      "Memoize the rows and virtualize the list.",
      "Measure with the React profiler before and after.",
    ],
    replies: [
      "Every keystroke changes the parent state, which rerenders all 5,000 rows.",
      "Rows are memoized and react-window renders only the visible ones.",
      "The profiler shows commits dropping from 180 ms to 6 ms.",
    ],
    file: "src/ProductTable.tsx",
    command: "npm run profile",
    keywordQuery: "table rerenders keystroke",
    paraphraseQuery: "laggy interface frontend speed",
  },
  {
    id: "ssl-certificates",
    project: "ops",
    prompts: [
      "Our TLS certificate expired last night and the site is down.",
      "Automate renewal with certbot.",
      "Monitor expiry dates and warn two weeks ahead.",
    ],
    replies: [
      "The certificate expired because the manual renewal was forgotten.",
      "certbot renews twice a day through a systemd timer and reloads nginx.",
      "A check script warns in the ops channel 14 days before any certificate expires.",
    ],
    file: "/etc/nginx/sites-enabled/app.conf",
    command: "sudo certbot renew --dry-run",
    keywordQuery: "TLS certificate expired",
    paraphraseQuery: "https encryption padlock outdated",
  },
  {
    id: "unicode-usernames",
    project: "auth",
    prompts: [
      "Two accounts can register names that look the same with different characters.",
      "Normalize usernames with NFKC and check confusables.",
      "Migrate existing usernames and report collisions.",
    ],
    replies: [
      "Lookalike characters such as Cyrillic letters let users impersonate each other.",
      "Usernames are now NFKC normalized and compared by their confusable skeleton.",
      "The migration normalized 120,000 names and found 14 collisions to review.",
    ],
    file: "src/usernames.ts",
    command: "node scripts/normalize-usernames.js",
    keywordQuery: "usernames NFKC confusables",
    paraphraseQuery: "impersonation homoglyph spoofing profiles",
  },
  {
    id: "git-history-secret",
    project: "platform",
    prompts: [
      "Someone committed an AWS key to the repository. Remove it from the history.",
      "Rotate the key first.",
      "Add a pre-commit hook that scans for secrets.",
    ],
    replies: [
      "I will rewrite the history with git filter-repo after the key is rotated.",
      "The old key is deactivated and a new one is in the vault.",
      "gitleaks now runs as a pre-commit hook and in CI.",
    ],
    file: ".pre-commit-config.yaml",
    command: "git filter-repo --invert-paths --path config/aws.env",
    keywordQuery: "AWS key history",
    paraphraseQuery: "leaked password credentials exposed publicly",
  },
  {
    id: "timezone-bug",
    project: "calendar",
    prompts: [
      "Events created in Tokyo show up a day early for users in New York.",
      "Store times as UTC and convert on display.",
      "Add tests around the daylight saving transitions.",
    ],
    replies: [
      "Dates are stored as local midnight without an offset, so they shift across zones.",
      "Times are now stored in UTC and rendered with the viewer's zone.",
      "Tests cover the March and November transitions in several zones.",
    ],
    file: "src/events.ts",
    command: "TZ=America/New_York npm test",
    keywordQuery: "Events Tokyo New York",
    paraphraseQuery: "appointments wrong hour clocks",
  },
  {
    id: "accessibility-audit",
    project: "webapp",
    prompts: [
      "Run an accessibility audit on the signup form.",
      "Screen readers do not announce the validation errors.",
      "Make the form usable with the keyboard alone.",
    ],
    replies: [
      "axe reports missing labels, low contrast and errors without aria-live.",
      "Errors are now linked with aria-describedby and announced through a live region.",
      "Focus order follows the visual order and every control is reachable with Tab.",
    ],
    file: "src/SignupForm.tsx",
    command: "npx axe http://localhost:3000/signup",
    keywordQuery: "accessibility audit signup",
    paraphraseQuery: "blind visitors assistive technology",
  },
  {
    id: "monorepo-build-cache",
    project: "platform",
    prompts: [
      "CI builds take 25 minutes. Cache the build outputs between runs.",
      "Only rebuild packages whose inputs changed.",
      "Share the cache between branches.",
    ],
    replies: [
      "Every job rebuilds all 40 packages from scratch.",
      "Turborepo hashes each package's inputs and restores outputs from the remote cache.",
      "The remote cache is shared, so a branch reuses main's outputs; builds take 6 minutes.",
    ],
    file: "turbo.json",
    command: "npx turbo run build --summarize",
    keywordQuery: "CI builds Cache",
    paraphraseQuery: "faster pipeline compile reuse artifacts",
  },
  {
    id: "elasticsearch-mapping",
    project: "search",
    prompts: [
      "Searching for product codes like AB-1234 finds nothing in Elasticsearch.",
      "Change the mapping so codes are not split by the analyzer.",
      "Reindex without downtime.",
    ],
    replies: [
      "The standard analyzer splits AB-1234 into two tokens, so exact codes never match.",
      "Codes now use a keyword field with a lowercase normalizer.",
      "A new index is filled in the background and the alias switches atomically.",
    ],
    file: "mappings/products.json",
    command: "curl -XPOST localhost:9200/_reindex",
    keywordQuery: "product codes Elasticsearch",
    paraphraseQuery: "lookup returns empty catalog identifiers",
  },
  {
    id: "mobile-push",
    project: "mobile",
    prompts: [
      "Send push notifications to the iOS and Android apps when an order ships.",
      "Store device tokens per user and remove invalid ones.",
      "Let users mute shipping notifications.",
    ],
    replies: [
      "The backend sends through APNs and FCM with the shipment details.",
      "Device tokens are saved at login; tokens the providers reject are deleted.",
      "A preference flag lets users mute shipping notifications.",
    ],
    file: "src/push.ts",
    command: "node scripts/send-test-push.js",
    keywordQuery: "push notifications iOS Android",
    paraphraseQuery: "phone alerts delivery shipped",
  },
  {
    id: "sql-injection",
    project: "legacy-admin",
    prompts: [
      "A pentest found SQL injection in the admin search.",
      "Replace string concatenation with parameterized queries everywhere.",
      "Add a lint rule that forbids building SQL from strings.",
    ],
    replies: [
      "The search builds its WHERE clause by concatenating the request parameter.",
      "All 37 queries now use placeholders and bound parameters.",
      "An ESLint rule flags template strings passed to db.query.",
    ],
    file: "src/admin/search.php",
    command: "sqlmap -u http://localhost/admin/search?q=1",
    keywordQuery: "SQL injection admin",
    paraphraseQuery: "attacker vulnerability security hole",
  },
  {
    id: "logging-structured",
    project: "api-server",
    prompts: [
      "Our logs are plain text and impossible to query. Switch to structured JSON logs.",
      "Include the request id in every log line.",
      "Ship the logs to Loki.",
    ],
    replies: [
      "pino now writes one JSON object per line with level, time and message.",
      "An AsyncLocalStorage context adds the request id to every line.",
      "Promtail tails the container output and pushes to Loki with labels.",
    ],
    file: "src/logger.ts",
    command: "docker compose logs api | jq .",
    keywordQuery: "structured JSON logs",
    paraphraseQuery: "observability tracing diagnostics",
  },
]

export interface GeneratedSession {
  readonly topic: Topic
  readonly sessionId: string
  readonly fileKey: string
  readonly text: string
}

const uuid = (n: number, i: number) =>
  `${n.toString(16).padStart(8, "0")}-0000-4000-8000-${i.toString(16).padStart(12, "0")}`

/** The session file of topic `n`, its lines a minute apart, starting `startMs`. */
export function sessionFile(topic: Topic, n: number, startMs: number): GeneratedSession {
  const sessionId = uuid(n, 0)
  const cwd = `/home/dev/${topic.project}`
  const project = `-home-dev-${topic.project}`
  let i = 0
  let parent: string | null = null
  const lines: string[] = []
  const base = () => {
    i++
    const id = uuid(n, i)
    const record = {
      parentUuid: parent,
      isSidechain: false,
      userType: "external",
      cwd,
      sessionId,
      version: "2.1.330",
      gitBranch: "main",
      uuid: id,
      timestamp: new Date(startMs + i * 60_000).toISOString(),
    }
    parent = id
    return record
  }
  const user = (content: unknown) =>
    lines.push(JSON.stringify({ ...base(), type: "user", message: { role: "user", content } }))
  const assistant = (content: unknown[]) =>
    lines.push(
      JSON.stringify({
        ...base(),
        type: "assistant",
        requestId: `req_${n}_${i}`,
        message: {
          id: `msg_${n}_${i}`,
          type: "message",
          role: "assistant",
          model: "claude-sonnet-4-5-20250929",
          content,
          stop_reason: "end_turn",
          usage: {
            input_tokens: 1200,
            output_tokens: 300,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 9000,
          },
        },
      }),
    )
  const toolUse = (id: string, name: string, input: Record<string, unknown>) => ({ type: "tool_use", id, name, input })
  const toolResult = (id: string, content: string) => user([{ type: "tool_result", tool_use_id: id, content }])

  user(topic.prompts[0])
  assistant([
    { type: "text", text: "Let me look at the code first." },
    toolUse(`t${n}a`, "Read", { file_path: `${cwd}/${topic.file}` }),
  ])
  toolResult(`t${n}a`, `     1\t// ${topic.file}\n     2\texport {}\n`)
  assistant([{ type: "text", text: topic.replies[0] }])
  user(topic.prompts[1])
  assistant([
    toolUse(`t${n}b`, "Edit", {
      file_path: `${cwd}/${topic.file}`,
      old_string: "export {}",
      new_string: "export const done = true",
    }),
  ])
  toolResult(`t${n}b`, `The file ${cwd}/${topic.file} has been updated.`)
  assistant([{ type: "text", text: topic.replies[1] }])
  user(topic.prompts[2])
  assistant([toolUse(`t${n}c`, "Bash", { command: topic.command, description: "Check the change" })])
  toolResult(`t${n}c`, "ok")
  assistant([{ type: "text", text: topic.replies[2] }])
  lines.push(JSON.stringify({ type: "last-prompt", lastPrompt: topic.prompts[2], sessionId }))
  return { topic, sessionId, fileKey: `${project}/${sessionId}.jsonl`, text: `${lines.join("\n")}\n` }
}

/** Mean reciprocal rank and top-1 rate of `rankings` (each the ranked session ids for a query). */
export function scoreRankings(rankings: readonly { readonly expected: string; readonly ranked: readonly string[] }[]): {
  mrr: number
  top1: number
} {
  let rr = 0
  let top1 = 0
  for (const { expected, ranked } of rankings) {
    const at = ranked.indexOf(expected)
    if (at >= 0) rr += 1 / (at + 1)
    if (at === 0) top1++
  }
  return { mrr: rr / rankings.length, top1: top1 / rankings.length }
}
