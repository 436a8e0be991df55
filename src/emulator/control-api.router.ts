import { validateConfigPatch, type EmulatorConfig } from './emulator.config';
import type { CounterRegistry } from './counter.registry';
import { snapshotOf, toWireExecution } from './execution.model';
import type { FaultRegistry } from './fault.registry';
import type { RequestLog } from './request.log';
import { HttpProblem, emptyReply, jsonReply, type Reply } from './http.util';
import type { TokenStore } from './token.store';
import type { WorldState } from './world.state';

export interface ControlDeps {
  world: WorldState;
  faults: FaultRegistry;
  counters: CounterRegistry;
  requests: RequestLog;
  tokens: TokenStore;
  config: EmulatorConfig;
  reset: () => void;
}

/**
 * The test and demo control API under `/__emulator/` (see docs/emulator.md). No auth, not counted,
 * never subject to faults.
 */
export function handleControl(
  method: string,
  segs: string[],
  body: unknown,
  deps: ControlDeps,
  nowMs: number,
): Reply {
  // segs: ['', '__emulator', ...rest]
  const path = segs.slice(2).join('/');
  const key = `${method} ${path}`;
  switch (key) {
    case 'POST reset':
      deps.reset();
      return emptyReply(204);
    case 'GET config':
      return jsonReply(200, deps.config);
    case 'PATCH config':
      Object.assign(deps.config, validateConfigPatch(body ?? {}));
      return jsonReply(200, deps.config);
    case 'POST faults':
      return jsonReply(201, deps.faults.add(body));
    case 'GET faults':
      return jsonReply(200, { results: deps.faults.list() });
    case 'DELETE faults':
      deps.faults.clear();
      return emptyReply(204);
    case 'POST tokens/revoke':
      deps.tokens.revokeAll();
      return emptyReply(204);
    case 'GET counters':
      return jsonReply(200, deps.counters.view());
    case 'DELETE counters':
      deps.counters.clear();
      return emptyReply(204);
    case 'GET requests':
      return jsonReply(200, deps.requests.view());
    case 'DELETE requests':
      deps.requests.clear();
      return emptyReply(204);
    case 'GET executions':
      return jsonReply(200, {
        results: deps.world.ordered.map((rec) => {
          const variables = { scalarVariables: rec.scalarVariables, gridVariables: rec.gridVariables };
          return {
            ...toWireExecution(rec, snapshotOf(rec, nowMs), true),
            executionTag: rec.executionTag,
            versionName: rec.versionName,
            agentId: rec.agentId,
            ...variables,
            variables,
          };
        }),
      });
  }
  if (method === 'DELETE' && segs.length === 4 && segs[2] === 'faults') {
    if (!deps.faults.remove(segs[3])) throw new HttpProblem(404, `No fault ${segs[3]}`);
    return emptyReply(204);
  }
  throw new HttpProblem(404, `No control route ${method} /__emulator/${path}`);
}
