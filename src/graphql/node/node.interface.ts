import { Field, ID, InterfaceType } from '@nestjs/graphql';
import type { NodeType } from './node-id';

/** Which type a value returned as `Node` is: mappers build plain objects, so `node` tags what it returns. */
const NODE_TYPE = Symbol('nodeType');

export function asNode<T extends object>(type: NodeType, value: T): T {
  return Object.assign({ ...value }, { [NODE_TYPE]: type });
}

@InterfaceType('Node', {
  description:
    "An object with a global id (Relay's Object Identification): pass `id` to `node` or `nodes` to read it again. Apollo Client and urql normalize every such object by `__typename` and `id` with no configuration.",
  resolveType: (value: { [NODE_TYPE]?: NodeType }) => value[NODE_TYPE],
})
export abstract class Node {
  @Field(() => ID, {
    description: 'Globally unique and stable; opaque unless the type says otherwise. `node(id:)` reads it.',
  })
  id!: string;
}
