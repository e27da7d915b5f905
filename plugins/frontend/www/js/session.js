// Who is signed in, as /api/auth/me said; pages read the role to hide what it may not do
// (the hub enforces it regardless).
export const session = { username: null, role: null, userId: null, panels: [] };

export function isManager() {
  return session.role === "owner" || session.role === "admin";
}
