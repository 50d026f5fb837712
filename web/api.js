// The one way the page talks to the server: the same GraphQL API and token endpoints every client uses.
// The session (access and refresh tokens) lives in this tab only (sessionStorage): closing it logs out.

import { lang } from "./i18n.js";

const KEY = "resolute.session";
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let refreshing = null;

export class ApiError extends Error {
  constructor(message, { status = 0, code = null, errors = [] } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}

export function signedIn() {
  return session !== null;
}

export function username() {
  return session?.username ?? null;
}

function keep(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
}

async function tokenRequest(body) {
  let response;
  try {
    response = await fetch("/auth/token", {
      method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": lang() }, body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("offline", { code: "OFFLINE" });
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(answer.error_description || answer.error || String(response.status), {
      status: response.status, code: answer.error || null, errors: [{ retryAfter: Number(response.headers.get("Retry-After") || 0) }],
    });
  }
  return answer;
}

export async function login(name, password) {
  const answer = await tokenRequest({ username: name, password });
  keep({ username: name, access: answer.access_token, refresh: answer.refresh_token });
}

async function refresh() {
  if (!session?.refresh) throw new ApiError("session ended", { status: 401, code: "UNAUTHENTICATED" });
  refreshing ??= tokenRequest({ grant_type: "refresh_token", refresh_token: session.refresh })
    .then((answer) => keep({ ...session, access: answer.access_token, refresh: answer.refresh_token }))
    .catch((error) => {
      keep(null);
      throw new ApiError("session ended", { status: 401, code: "UNAUTHENTICATED", errors: [error] });
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

export async function logout() {
  const ending = session;
  keep(null);
  if (ending?.refresh) {
    await fetch("/auth/logout", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: ending.refresh }) }).catch(() => {});
  }
}

async function authorized(path, init, retried = false) {
  if (!session) throw new ApiError("session ended", { status: 401, code: "UNAUTHENTICATED" });
  const headers = { ...(init.headers || {}), Authorization: `Bearer ${session.access}`, "Accept-Language": lang() };
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError("offline", { code: "OFFLINE" });
  }
  if (response.status === 401 && !retried) {
    await refresh();
    return authorized(path, init, true);
  }
  return response;
}

/** The `data` of a GraphQL operation; an ApiError carrying the GraphQL errors when there are any. */
export async function gql(query, variables = {}) {
  const response = await authorized("/graphql", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) {
    keep(null);
    throw new ApiError("session ended", { status: 401, code: "UNAUTHENTICATED" });
  }
  if (body.errors?.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, { status: response.status, code: first.extensions?.code ?? null, errors: body.errors });
  }
  return body.data;
}

/** Save a report pack (CSV or XLSX) the server builds for this caller. */
export async function download(path, filename) {
  const response = await authorized(path, { method: "GET" });
  if (!response.ok) throw new ApiError(`${response.status}`, { status: response.status });
  const url = URL.createObjectURL(await response.blob());
  const link = Object.assign(document.createElement("a"), { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Live events over one graphql-transport-ws connection, one subscription per query; `onEvent(data)` for each
 * event of any of them. When the server ends it (an access token that ran out, a restart), the token is refreshed
 * and it subscribes again, waiting longer each time. Returns a function that closes it for good. */
export function subscribe(queries, variables, onEvent) {
  let socket = null;
  let closed = false;
  let wait = 1000;
  const text = new TextDecoder();
  const open = () => {
    if (closed || !session) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/graphql`, "graphql-transport-ws");
    socket.binaryType = "arraybuffer";  // the server sends its JSON as binary frames
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${session.access}` } })));
    socket.addEventListener("message", (message) => {
      const frame = JSON.parse(typeof message.data === "string" ? message.data : text.decode(message.data));
      if (frame.type === "connection_ack") {
        wait = 1000;
        queries.forEach((query, i) => socket.send(JSON.stringify({ id: String(i + 1), type: "subscribe", payload: { query, variables } })));
      } else if (frame.type === "next" && frame.payload?.data) onEvent(frame.payload.data);
      else if (frame.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
      else if (frame.type === "error" || frame.type === "complete") socket.close(1000);
    });
    socket.addEventListener("close", () => {
      if (closed) return;
      setTimeout(() => refresh().catch(() => {}).finally(open), wait);
      wait = Math.min(wait * 2, 60_000);
    });
  };
  open();
  return () => {
    closed = true;
    if (socket) socket.close(1000);
  };
}
