/**
 * `environments [words]`: the environments a user can see, narrowed by the words they typed. Unlike
 * resolution (which must find the one environment meant), a search only filters: every word has
 * to occur somewhere in the environment's display name, domain name, type or id.
 */
import type { Environment } from './vocabulary';
import { nameKey } from './environment-names';

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

/** The environments every word matches, sorted by display name (then id, so pages are stable). */
export function searchEnvironments(
  environments: readonly Environment[],
  words: string,
): Environment[] {
  const keys = words
    .split(/\s+/)
    .map((word) => ({ name: nameKey(word), raw: word.toLowerCase() }))
    .filter((word) => word.raw !== '');
  return environments
    .filter((environment) => {
      const haystacks = [
        nameKey(environment.displayName),
        nameKey(environment.domainName ?? ''),
        environment.type.toLowerCase(),
      ];
      const id = environment.id.toLowerCase();
      return keys.every(
        (word) =>
          id.includes(word.raw) ||
          (word.name !== '' && haystacks.some((haystack) => haystack.includes(word.name))),
      );
    })
    .sort(
      (a, b) =>
        collator.compare(a.displayName, b.displayName) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
}
