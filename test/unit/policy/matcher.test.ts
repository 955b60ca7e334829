/**
 * Which rule applies to an environment, and why: types, name pattern and ids (every listed
 * condition must hold), the first matching rule wins, and the reason is said in words.
 */
import type { Environment } from '../../../src/elevation/vocabulary';
import { matchReason, requestPolicyOf, ruleFor } from '../../../src/policy/matcher';
import type { Policy, PolicyRule } from '../../../src/policy/policy';

const PROD_ID = '0a1b2c3d-0000-4000-8000-000000000001';

function environment(overrides: Partial<Environment>): Environment {
  return {
    id: '0a1b2c3d-0000-4000-8000-00000000ffff',
    displayName: 'Contoso',
    type: 'Sandbox',
    ...overrides,
  };
}

const policy: Policy = {
  source: 'policy.yaml',
  rules: [
    { name: 'pinned', match: { ids: [PROD_ID] } },
    { name: 'finance production', match: { types: ['Production'], namePattern: '^Finance' } },
    { name: 'production', match: { types: ['Production', 'Default'] } },
    { name: 'temporary', match: { namePattern: 'temp|scratch' } },
    { name: 'default', match: {} },
  ],
};

describe('the first rule whose every condition holds applies, with the reason', () => {
  it.each<[string, Partial<Environment>, string, string]>([
    ['an id listed', { id: PROD_ID, type: 'Production' }, 'pinned', `its id is ${PROD_ID}`],
    [
      'an id listed, in another case',
      { id: PROD_ID.toUpperCase(), type: 'Production' },
      'pinned',
      `its id is ${PROD_ID.toUpperCase()}`,
    ],
    [
      'type and name both hold',
      { displayName: 'Finance EU', type: 'Production' },
      'finance production',
      'its type is Production and its name matches /^Finance/i',
    ],
    [
      'the name pattern ignores case',
      { displayName: 'finance us', type: 'production' },
      'finance production',
      'its type is production and its name matches /^Finance/i',
    ],
    [
      'type holds but the name does not: the next rule',
      { displayName: 'Contoso Prod', type: 'Production' },
      'production',
      'its type is Production',
    ],
    ['any of the types', { type: 'Default' }, 'production', 'its type is Default'],
    [
      'a name pattern alone',
      { displayName: 'Scratch area', type: 'Developer' },
      'temporary',
      'its name matches /temp|scratch/i',
    ],
    [
      'nothing else matches',
      { displayName: 'Contoso Dev', type: 'Developer' },
      'default',
      'the rule matches every environment',
    ],
    [
      'a type the policy cannot name (Teams) falls through',
      { displayName: 'Team space', type: 'Teams' },
      'default',
      'the rule matches every environment',
    ],
  ])('%s', (_case, overrides, rule, why) => {
    const choice = ruleFor(policy, environment(overrides));
    expect(choice.rule.name).toBe(rule);
    expect(choice.why).toBe(why);
  });

  it('an earlier rule wins over a later one that matches too', () => {
    const finance = environment({ displayName: 'Finance temp', type: 'Production' });
    expect(matchReason(policy.rules[3]!, finance)).toBeDefined();
    expect(ruleFor(policy, finance).rule.name).toBe('finance production');
  });

  it('a policy without a rule for everything still answers', () => {
    const choice = ruleFor({ source: 'x', rules: [policy.rules[0]!] }, environment({}));
    expect(choice).toEqual({ rule: { name: 'default', match: {} }, why: 'no rule matched' });
  });
});

describe('what a new request records of its rule', () => {
  const strict: PolicyRule = {
    name: 'production',
    match: { types: ['Production'] },
    stepUp: 'c1',
    approval: {
      channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
      timeoutMinutes: 30,
    },
  };

  it('the rule, why, the step-up and an approval not asked yet', () => {
    expect(requestPolicyOf({ rule: strict, why: 'its type is Production' })).toEqual({
      rule: 'production',
      why: 'its type is Production',
      stepUp: 'c1',
      approval: {
        status: 'not-asked',
        because: 'rule',
        channel: { team: 'My Team', channel: '19:my-team-general@thread.tacv2' },
        timeoutMinutes: 30,
      },
    });
  });

  it('a rule that asks for neither records neither', () => {
    expect(requestPolicyOf({ rule: { name: 'open', match: {} }, why: 'w' })).toEqual({
      rule: 'open',
      why: 'w',
    });
  });
});
