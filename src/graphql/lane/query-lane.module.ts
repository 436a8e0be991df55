import { Module } from '@nestjs/common';
import { GraphqlQueryLane } from './query-lane';

/**
 * The GraphQL query lane (query-lane.ts): its Apollo plugin is added by the GraphQL module, its request
 * listener is installed inside the whole-answer front (HotReadModule imports this module for that order).
 */
@Module({
  providers: [GraphqlQueryLane],
  exports: [GraphqlQueryLane],
})
export class GraphqlLaneModule {}
