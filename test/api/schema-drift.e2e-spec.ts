import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildClientSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
  type IntrospectionQuery,
} from 'graphql';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { describeDriftCheck, REPO_ROOT } from '../support/drift-check';
import { gqlData } from './support/api-client';

const SCHEMA_FILE = join(REPO_ROOT, 'schema.gql');

/** `schema.gql` is the served schema, and the CI check (`print-schema.js --check`) fails when it drifts. */
describe('schema.gql', () => {
  describeDriftCheck({
    file: 'schema.gql',
    printer: 'print-schema.js',
    script: 'schema',
    drift: (text) => text.replace('type PageInfo {', 'type PageInfo {\n  removedField: String'),
  });

  describe('against a running gateway', () => {
    let maia: EmulatorFixture;
    let gateway: InProcessGateway;
    beforeAll(async () => {
      maia = await startEmulatorFixture();
      gateway = await startGateway(gatewayEnv(maia));
    });
    afterAll(async () => {
      await gateway?.close();
      await maia?.close();
    });

    it('the served schema (introspection) is the committed one', async () => {
      const introspection = (await gqlData(gateway.url, getIntrospectionQuery())) as IntrospectionQuery;
      const served = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
      const committed = readFileSync(SCHEMA_FILE, 'utf8')
        .replace(/^#.*\n\n/, '')
        .trim();
      expect(served.trim()).toBe(committed);
    });
  });
});
