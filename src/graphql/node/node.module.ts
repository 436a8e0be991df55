import { Module } from '@nestjs/common';
import { EnvironmentsModule } from '../../environments/environments.module';
import { ExecutionsModule } from '../../executions/executions.module';
import { PipelinesModule } from '../../pipelines/pipelines.module';
import { ProjectsModule } from '../../projects/projects.module';
import { NodeResolver } from './node.resolver';

/** Global object identification: the `Node` interface's `node` and `nodes` queries. */
@Module({
  imports: [ProjectsModule, EnvironmentsModule, PipelinesModule, ExecutionsModule],
  providers: [NodeResolver],
})
export class NodeModule {}
