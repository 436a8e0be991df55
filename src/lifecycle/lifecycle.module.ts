import { Global, Module } from '@nestjs/common';
import { LifecycleService } from './lifecycle.service';

/** Global: health reads the phase, and long-lived transports listen to `shutdownSignal`. */
@Global()
@Module({ providers: [LifecycleService], exports: [LifecycleService] })
export class LifecycleModule {}
