import { SANDBOX_PRINCIPAL, type Principal } from './principal';
import { toViewer } from './viewer.resolver';
import { ViewerKind } from './models/viewer.model';

describe('toViewer', () => {
  it('lists the scopes a principal holds, in a fixed order, and its projects sorted', () => {
    const principal: Principal = {
      id: 'key:ops',
      name: 'ops',
      kind: 'api-key',
      scopes: new Set(['cancel', 'read']),
      projects: new Set(['b0000000-0000-4000-8000-000000000000', 'a0000000-0000-4000-8000-000000000000']),
    };
    expect(toViewer(principal)).toEqual({
      name: 'ops',
      kind: ViewerKind.API_KEY,
      scopes: ['read', 'cancel'],
      allProjects: false,
      projectIds: ['a0000000-0000-4000-8000-000000000000', 'b0000000-0000-4000-8000-000000000000'],
      expiresAt: null,
    });
  });

  it('expands admin to every scope it implies', () => {
    const admin: Principal = {
      id: 'jwt:x',
      name: 'x',
      kind: 'jwt',
      scopes: new Set(['admin']),
      projects: '*',
    };
    expect(toViewer(admin)).toMatchObject({
      kind: ViewerKind.JWT,
      scopes: ['read', 'execute', 'cancel', 'admin'],
    });
  });

  it('says when authentication is off: the sandbox caller, every scope, every project', () => {
    expect(toViewer(SANDBOX_PRINCIPAL)).toMatchObject({
      kind: ViewerKind.SANDBOX,
      scopes: ['read', 'execute', 'cancel', 'admin'],
      allProjects: true,
      projectIds: [],
    });
  });
});
