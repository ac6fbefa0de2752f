// Who is calling: the tenant a token belongs to and what its role lets it do (docs/spec/api-v1.md
// "Server"). A principal never carries the token itself, only a non-secret id for logs
// and rate limiting.
export type Role = 'admin' | 'operator' | 'observer'

export const ROLES: readonly Role[] = ['admin', 'operator', 'observer']

export interface Principal {
  tenant: string
  role: Role
  /** First 16 hex digits of sha256(token): stable, not reversible, safe to log. */
  id: string
}
