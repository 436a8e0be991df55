import { answerJson } from '../common/http/immutable-answer';
import type { Page } from '../common/http/pagination';
import type { Principal } from '../auth/principal';
import type { MaiaProject } from '../maia/maia.types';
import { ProjectsController } from './projects.controller';
import type { ProjectsService } from './projects.service';

function project(id: string, name: string): MaiaProject {
  return { id, name, asSent: { id, name } } as unknown as MaiaProject;
}

function frozenPage(...projects: MaiaProject[]): Page<MaiaProject> {
  for (const p of projects) Object.freeze(p.asSent);
  return Object.freeze({
    page: 0,
    size: 25,
    total: projects.length,
    results: Object.freeze(projects) as MaiaProject[],
  });
}

describe('ProjectsController.list', () => {
  const principal = { id: 'api-key:test', projects: '*' } as unknown as Principal;

  it('builds the answer of a cached (frozen) page once, and a new one when the cache holds a new page', async () => {
    let page = frozenPage(project('p1', 'One'));
    const service = { listPage: jest.fn(() => Promise.resolve(page)) } as unknown as ProjectsService;
    const controller = new ProjectsController(service);
    const first = await controller.list({}, principal);
    expect(await controller.list({}, principal)).toBe(first);
    expect(answerJson(first)).toBe('{"page":0,"size":25,"total":1,"results":[{"id":"p1","name":"One"}]}');
    // The entry was reloaded: a new frozen page, so a new answer, never the old JSON.
    page = frozenPage(project('p1', 'Renamed'), project('p2', 'Two'));
    const second = await controller.list({}, principal);
    expect(second).not.toBe(first);
    expect(answerJson(second)).toBe(
      '{"page":0,"size":25,"total":2,"results":[{"id":"p1","name":"Renamed"},{"id":"p2","name":"Two"}]}',
    );
  });

  it('answers without a promise when the service has the page at hand, the same answer as by a promise', async () => {
    const page = frozenPage(project('p1', 'One'));
    let synchronous = true;
    const service = {
      listPage: jest.fn(() => (synchronous ? page : Promise.resolve(page))),
    } as unknown as ProjectsService;
    const controller = new ProjectsController(service);
    const now = controller.list({}, principal);
    expect(now).not.toBeInstanceOf(Promise);
    synchronous = false;
    const later = controller.list({}, principal);
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toBe(now);
  });

  it('maps a page cut for one caller (not frozen) on every request', async () => {
    const cut = (): Page<MaiaProject> => ({ page: 0, size: 25, total: 1, results: [project('p1', 'One')] });
    const service = { listPage: jest.fn(() => Promise.resolve(cut())) } as unknown as ProjectsService;
    const controller = new ProjectsController(service);
    const first = await controller.list({}, principal);
    const second = await controller.list({}, principal);
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    expect(Object.isFrozen(first)).toBe(false);
  });
});
