import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { EdgeReads } from './edge-reads';

/** REST reads served by the HTTP edge itself (`@EdgeRead()`, see edge-reads.ts). */
@Module({
  imports: [DiscoveryModule],
  providers: [EdgeReads],
  exports: [EdgeReads],
})
export class EdgeReadsModule {}
