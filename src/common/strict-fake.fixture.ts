/**
 * Strict fakes for unit specs of the services: an object with exactly the members a test
 * gives it. Touching any other member throws, naming it, so a service that starts using a
 * collaborator the test did not expect fails the test instead of running against `undefined`.
 * Only our own ports and services are faked this way; databases and storage are never faked
 * where behaviour is proved (the integration tests run them for real).
 */
export function strictFake<T extends object>(name: string, members: Partial<T> = {}): T {
  return new Proxy(members, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      // Promise resolution and jest's printing probe these; a fake is not a thenable.
      if (prop === 'then' || prop === 'asymmetricMatch' || typeof prop === 'symbol' || prop === 'toJSON')
        return undefined;
      throw new Error(`${name}.${String(prop)} was used, but this test's fake does not provide it`);
    },
  }) as T;
}
