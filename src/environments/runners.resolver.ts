import { Args, Context, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { RequireScope } from '../auth/require-scope.decorator';
import { mapPage, slicePage } from '../common/http/pagination';
import type { GraphqlContext } from '../graphql/graphql-context';
import { PageArgs } from '../graphql/page.args';
import { WholeAnswerCacheable } from '../hot-read/whole-answer-cacheable.decorator';
import type { MaiaAgent } from '../maia/maia.types';
import { toAgent } from './environment.mapper';
import { Agent, AgentPage, Environment } from './models/environment.model';
import { RunnersService } from './runners.service';

/** The request's one read of the account's runners (DataLoader), shared by every field that needs it. */
function runners(ctx: GraphqlContext, service: RunnersService): Promise<MaiaAgent[]> {
  return ctx.loaders
    .get(
      'runners',
      () => service.listAll(),
      () => 'all',
    )
    .load('all');
}

@Resolver(() => Environment)
export class EnvironmentRunnersResolver {
  constructor(private readonly runnersService: RunnersService) {}

  @ResolveField(() => AgentPage, {
    description:
      "The runners (agents) that can be named as `agentId` when executing in this environment: Maia lists the account's runners, the same for every environment, the environment's default runner first. A restricted runner runs only what its allow list admits (see `Agent.restricted`). Without `agentId`, execute uses `defaultAgent`.",
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async runners(
    @Parent() environment: Environment,
    @Args() { page, size }: PageArgs,
    @Context() ctx: GraphqlContext,
  ): Promise<AgentPage> {
    const all = await runners(ctx, this.runnersService);
    const defaultId = environment.defaultAgent?.id.toLowerCase();
    const ordered = [
      ...all.filter((a) => a.agentId.toLowerCase() === defaultId),
      ...all.filter((a) => a.agentId.toLowerCase() !== defaultId),
    ];
    return mapPage(slicePage(ordered, page, size), toAgent);
  }
}

@Resolver(() => Agent)
export class RunnerFieldsResolver {
  constructor(private readonly runnersService: RunnersService) {}

  private async find(agent: Agent, ctx: GraphqlContext): Promise<MaiaAgent | undefined> {
    const wanted = agent.id.toLowerCase();
    return (await runners(ctx, this.runnersService)).find((a) => a.agentId.toLowerCase() === wanted);
  }

  @ResolveField(() => Boolean, {
    nullable: true,
    description:
      "True for a runner that serves only the project/environment pairs on its allow list (a run elsewhere ends FORBIDDEN); null when the account's runner list does not say or does not hold this runner.",
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async restricted(@Parent() agent: Agent, @Context() ctx: GraphqlContext): Promise<boolean | null> {
    return (await this.find(agent, ctx))?.restricted ?? null;
  }

  @ResolveField(() => String, {
    nullable: true,
    description: "The runner's status as Maia reports it in the account's runner list, when it does.",
  })
  @RequireScope('read')
  @WholeAnswerCacheable()
  async status(@Parent() agent: Agent, @Context() ctx: GraphqlContext): Promise<string | null> {
    return (await this.find(agent, ctx))?.status ?? null;
  }
}
