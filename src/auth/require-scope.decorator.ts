import { SetMetadata } from '@nestjs/common';

/** What a caller may do. `admin` implies every other scope. */
export const scopes = ['read', 'execute', 'cancel', 'admin'] as const;
export type Scope = (typeof scopes)[number];

export const REQUIRED_SCOPE = 'maia-gateway:required-scope';

/**
 * Marks the scope a resolver field, mutation, subscription or REST route needs. The auth guard reads it;
 * an operation without it is refused (fail closed), so every new operation must say what it needs.
 */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
