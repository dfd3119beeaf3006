import type { Actor, RequestWithContext } from './request-context';
import { SYSTEM_ACTOR } from './request-context';
import { currentActor, currentRequest, runAs, runInRequestScope } from './request-scope';

const ALICE: Actor = { type: 'api-key', keyId: 'k1', name: 'alice', role: 'admin' };
const CLI: Actor = { type: 'system', keyId: null, name: 'cli:ops', role: null };
const request = (actor?: Actor) => ({ actor, requestId: 'r1' }) as RequestWithContext;

describe('who acts (request-scope)', () => {
  it('is the system outside any scope', () => {
    expect(currentActor()).toBe(SYSTEM_ACTOR);
    expect(currentRequest()).toBeUndefined();
  });

  it("is the request's caller inside a request, read when asked (the guard sets it after the scope opens)", async () => {
    const req = request();
    await runInRequestScope(req, async () => {
      expect(currentActor()).toBe(SYSTEM_ACTOR);
      req.actor = ALICE;
      await new Promise((r) => setImmediate(r)); // still so after an await: work the request started
      expect(currentActor()).toBe(ALICE);
    });
  });

  it('is the runAs actor, with no request, even when a timer made during a request fires inside it', async () => {
    const seen = await runInRequestScope(
      request(ALICE),
      () =>
        // A timer created while the request is served would otherwise run as its caller.
        new Promise<[Actor, RequestWithContext | undefined]>((resolve) =>
          setTimeout(() => runAs(CLI, () => resolve([currentActor(), currentRequest()])), 1),
        ),
    );
    expect(seen).toEqual([CLI, undefined]);
  });
});
