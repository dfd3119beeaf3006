import { rolesNamedInDdl } from './pg-ddl-roles';

describe('rolesNamedInDdl', () => {
  it.each([
    ['ALTER TABLE public.t OWNER TO app_owner;', ['app_owner']],
    ['ALTER SCHEMA "Sales" OWNER TO "Sales Admin";', ['Sales Admin']],
    [
      'GRANT SELECT ON TABLE public.t TO reader;\nGRANT ALL ON TABLE public.t TO writer, "Mixed""Case" WITH GRANT OPTION;',
      ['Mixed"Case', 'reader', 'writer'],
    ],
    ['REVOKE ALL ON SCHEMA public FROM PUBLIC;\nGRANT USAGE ON SCHEMA public TO PUBLIC;', []],
    [
      'ALTER DEFAULT PRIVILEGES FOR ROLE deployer IN SCHEMA public GRANT SELECT ON TABLES TO analyst;',
      ['analyst', 'deployer'],
    ],
    ["CREATE TABLE public.t (owner_to text);\nCOMMENT ON TABLE public.t IS 'GRANT nothing';", []],
  ])('%s', (sql, roles) => {
    expect(rolesNamedInDdl(sql)).toEqual(roles);
  });
});
