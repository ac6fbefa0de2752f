// Who is calling: the tenant a token belongs to and what its role lets it do (docs/spec/api-v1.md
// "Server"). A principal never carries the token itself, only a non-secret id for logs
// and rate limiting.
// `metrics` is for scrapers: GET /metrics and nothing else.
export type Role = 'admin' | 'operator' | 'observer' | 'metrics'

export const ROLES: readonly Role[] = ['admin', 'operator', 'observer', 'metrics']

export interface Principal {
  tenant: string
  role: Role
  /** First 16 hex digits of sha256(token): stable, not reversible, safe to log. */
  id: string
}
