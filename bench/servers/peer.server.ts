import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

/**
 * Baseline "peer": what a user would pick instead of the gateway. A plain Apollo Server (standalone, its
 * defaults) with the gateway's schema slice for projects, environments and published pipelines, answering
 * from memory (the emulator's seed world), so it pays no upstream, cache or Redis cost at all.
 *
 * Env: BENCH_SEED_PATH (the emulator's seed.json).
 */

interface SeedPipeline {
  name: string;
  environments: string[];
  publishedTime?: string | null;
}
interface Seed {
  agents: { id: string; name: string }[];
  projects: {
    id: string;
    name: string;
    description?: string | null;
    environments: { name: string; defaultAgentId?: string | null }[];
    pipelines: SeedPipeline[];
  }[];
}

interface PublishedPipeline {
  name: string;
  publishedTime: string | null;
  projectId: string;
  environmentName: string;
}
interface Environment {
  name: string;
  projectId: string;
  defaultAgent: { id: string; name: string | null } | null;
  pipelines: PublishedPipeline[];
}
interface Project {
  id: string;
  name: string;
  description: string | null;
  environments: Environment[];
}

const typeDefs = /* GraphQL */ `
  type Query {
    projects(page: Int = 0, size: Int = 25): ProjectPage!
  }
  type ProjectPage {
    page: Int!
    size: Int!
    total: Int!
    results: [Project!]!
  }
  type Project {
    id: ID!
    name: String!
    description: String
    environments(page: Int = 0, size: Int = 25): EnvironmentPage!
  }
  type EnvironmentPage {
    page: Int!
    size: Int!
    total: Int!
    results: [Environment!]!
  }
  type Agent {
    id: ID!
    name: String
  }
  type Environment {
    name: String!
    projectId: ID!
    defaultAgent: Agent
    publishedPipelines(page: Int = 0, size: Int = 25): PublishedPipelinePage!
  }
  type PublishedPipelinePage {
    page: Int!
    size: Int!
    total: Int!
    results: [PublishedPipeline!]!
  }
  type PublishedPipeline {
    name: String!
    publishedTime: String
    projectId: ID!
    environmentName: String!
  }
`;

function loadWorld(seedPath: string): Project[] {
  const seed = JSON.parse(readFileSync(seedPath, 'utf8')) as Seed;
  const agents = new Map(seed.agents.map((agent) => [agent.id, agent]));
  return seed.projects.map((project) => ({
    id: project.id,
    name: project.name,
    description: project.description ?? null,
    environments: project.environments.map((environment) => {
      const agent = environment.defaultAgentId ? agents.get(environment.defaultAgentId) : undefined;
      return {
        name: environment.name,
        projectId: project.id,
        defaultAgent: agent ? { id: agent.id, name: agent.name } : null,
        pipelines: project.pipelines
          .filter((pipeline) => pipeline.environments.includes(environment.name))
          .map((pipeline) => ({
            name: pipeline.name,
            publishedTime: pipeline.publishedTime ?? null,
            projectId: project.id,
            environmentName: environment.name,
          })),
      };
    }),
  }));
}

interface PageArgs {
  page: number;
  size: number;
}
function pageOf<T>(items: T[], { page, size }: PageArgs) {
  return { page, size, total: items.length, results: items.slice(page * size, (page + 1) * size) };
}

async function main(): Promise<void> {
  const world = loadWorld(process.env.BENCH_SEED_PATH ?? '');
  const server = new ApolloServer({
    typeDefs,
    resolvers: {
      Query: { projects: (_: unknown, args: PageArgs) => pageOf(world, args) },
      Project: { environments: (project: Project, args: PageArgs) => pageOf(project.environments, args) },
      Environment: {
        publishedPipelines: (environment: Environment, args: PageArgs) => pageOf(environment.pipelines, args),
      },
    },
  });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: 0 } });
  console.log(`peer server listening on ${url.replace(/\/$/, '')}`);
  process.once('SIGTERM', () => {
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

void main();
