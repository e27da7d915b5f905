// The session and every HTTP call. The access token lives in memory only; the refresh
// token in sessionStorage (this tab, survives a reload, gone when the tab closes) — the
// reasons are in docs/portal.md. A 401 is retried once after a refresh; when the refresh
// fails too, the session has ended and the app shows why.
const REFRESH_KEY = "stationHub.refreshToken";
const listeners = new Set();
let access = null;
let expiresAt = 0;
let refreshing = null;
let timer = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

export function onSessionChange(listener) {
  listeners.add(listener);
}

function announce(reason) {
  for (const listener of listeners) listener(reason);
}

export function hasSession() {
  return access !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

export function accessToken() {
  return access;
}

export function accessExpired() {
  return access === null || Date.now() > expiresAt - 30_000;
}

export function keepTokens(body) {
  access = body.access_token;
  expiresAt = Date.now() + (body.expires_in || 900) * 1000;
  if (body.refresh_token) sessionStorage.setItem(REFRESH_KEY, body.refresh_token);
  clearTimeout(timer);
  // Silent refresh a minute before the access token runs out.
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(5_000, expiresAt - Date.now() - 60_000));
}

export function endSession(reason) {
  access = null;
  clearTimeout(timer);
  sessionStorage.removeItem(REFRESH_KEY);
  announce(reason);
}

export function refresh() {
  if (refreshing) return refreshing;
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) return Promise.reject(new ApiError(401, "no_session", "not signed in"));
  refreshing = raw("POST", "/api/auth/refresh", { refresh_token: token })
    .then((body) => keepTokens(body))
    .catch((error) => {
      if (error.status === 401) endSession("ended");
      throw error;
    })
    .finally(() => { refreshing = null; });
  return refreshing;
}

async function raw(method, path, body, token, options = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    announce("unreachable");
    throw new ApiError(0, "unreachable", "the hub does not answer");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const problem = (data && data.error) || {};
    throw new ApiError(response.status, problem.code, problem.message);
  }
  // Paged listings name their next page in X-Next-Cursor (docs/architecture.md).
  if (options.withHeaders) return { body: data, next: response.headers.get("X-Next-Cursor") };
  return data;
}

export async function api(method, path, body, options) {
  if (accessExpired()) await refresh();
  try {
    return await raw(method, path, body, access, options);
  } catch (error) {
    if (error.status !== 401) throw error;
    await refresh();
    return raw(method, path, body, access, options);
  }
}

export async function login(username, password) {
  keepTokens(await raw("POST", "/api/auth/login", { username, password }));
}

export async function onboard(username, password) {
  keepTokens(await raw("POST", "/api/auth/onboarding", { username, password }));
}

export function onboardingRequired() {
  return raw("GET", "/api/auth/onboarding").then((body) => body.required);
}

export async function logout() {
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (token) await raw("POST", "/api/auth/logout", { refresh_token: token }).catch(() => {});
  endSession("signed_out");
}
