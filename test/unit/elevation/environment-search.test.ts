import { searchEnvironments } from '../../../src/elevation/environment-search';
import type { Environment } from '../../../src/elevation/vocabulary';

const env = (displayName: string, fields: Partial<Environment> = {}): Environment => ({
  id: fields.id ?? `${displayName.toLowerCase().replace(/\W+/g, '-')}-id`,
  displayName,
  type: 'Sandbox',
  ...fields,
});

const dev = env('Contoso Dev', { domainName: 'contoso-dev' });
const prod = env('Contoso Prod', { domainName: 'contoso', type: 'Production' });
const sales = env('Northwind Sales', { domainName: 'nw-sales', type: 'Production' });
const munich = env('München Vertrieb', { id: 'aaaa1111-0000-4000-8000-000000000001' });
const all = [sales, prod, munich, dev];

describe('searching the environments a user can see', () => {
  it.each<[string, string, Environment[]]>([
    ['no words: every environment, by display name', '', [dev, prod, munich, sales]],
    ['a word of the name, any case', 'CONTOSO', [dev, prod]],
    ['every word must match', 'contoso prod', [prod]],
    ['the type counts: "production"', 'production', [prod, sales]],
    ['a part of a word', 'prod', [prod, sales]],
    ['the domain name', 'nw-sales', [sales]],
    ['diacritics are optional', 'munchen', [munich]],
    ['a part of the id', 'aaaa1111', [munich]],
    ['nothing matches', 'fabrikam', []],
  ])('%s: %j', (_rule, words, expected) => {
    expect(searchEnvironments(all, words)).toEqual(expected);
  });
});
