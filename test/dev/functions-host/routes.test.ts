/** Route templates as the Functions host matches them. */
import { byPrecedence, compileRoute } from '../../../dev/functions-host/routes';

describe('route templates', () => {
  it('matches literals case-insensitively and extracts decoded parameters', () => {
    const route = compileRoute('api/accounts/{id}/folders/{name}', undefined);
    expect(route.match('/API/Accounts/a%40b.com/folders/Sent%20Items')).toEqual({ id: 'a@b.com', name: 'Sent Items' });
    expect(route.match('/api/accounts/x/folders')).toBeUndefined();
    expect(route.match('/api/accounts/x/folders/y/z')).toBeUndefined();
  });

  it('supports optional parameters, constraints, catch-all and mixed segments', () => {
    expect(compileRoute('api/items/{id?}', undefined).match('/api/items')).toEqual({});
    expect(compileRoute('api/items/{id?}', undefined).match('/api/items/3')).toEqual({ id: '3' });
    const typed = compileRoute('api/items/{id:int}', undefined);
    expect(typed.match('/api/items/12')).toEqual({ id: '12' });
    expect(typed.match('/api/items/abc')).toBeUndefined();
    expect(compileRoute('api/files/{*path}', undefined).match('/api/files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(compileRoute('api/files/{name}.{ext}', undefined).match('/api/files/report.final.pdf')).toEqual({
      name: 'report.final',
      ext: 'pdf',
    });
  });

  it('orders literal segments before parameters, and parameters before optional ones', () => {
    const templates = ['api/items/{id?}', 'api/items/{id}', 'api/items/special', 'api/items/{id:int}'];
    const sorted = templates
      .map((t) => compileRoute(t, undefined))
      .sort(byPrecedence)
      .map((r) => r.template);
    expect(sorted).toEqual(['api/items/special', 'api/items/{id:int}', 'api/items/{id}', 'api/items/{id?}']);
  });

  it('rejects an invalid parameter name', () => {
    expect(() => compileRoute('api/{bad name}', undefined)).toThrow(/invalid parameter/);
  });
});
