import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'maia-gateway:public';

/**
 * Marks a route that anyone may call without credentials (health probes, metrics scraped inside the
 * cluster). The auth guard skips it; everything else needs credentials and a `@RequireScope`.
 */
export const Public = () => SetMetadata(IS_PUBLIC, true);
