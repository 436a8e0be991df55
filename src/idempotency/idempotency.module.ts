import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';

/** Idempotency keys for side effects (executePipeline): `IdempotencyService.run` and `fingerprintOf`. */
@Module({ providers: [IdempotencyService], exports: [IdempotencyService] })
export class IdempotencyModule {}
