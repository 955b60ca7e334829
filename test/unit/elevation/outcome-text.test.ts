/** The wording of outcomes (issue #11, answers 3 and 8). */
import {
  describeOutcome,
  describeRefusal,
  describeStatus,
} from '../../../src/elevation/outcome-text';
import type { AdminRoleOutcome, Failure, FailureKind } from '../../../src/elevation/vocabulary';

function failure(kind: FailureKind, overrides: Partial<Failure> = {}): Failure {
  return {
    ok: false,
    kind,
    message: 'What the API said.',
    details: [],
    response: {
      status: 429,
      statusText: 'Too Many Requests',
      clientRequestId: 'cr',
      attempts: 1,
      durationMs: 1,
    },
    ...overrides,
  };
}

const GRANTED: AdminRoleOutcome = {
  ok: true,
  code: 'UserExists',
  details: [],
  response: { status: 200, statusText: 'OK', clientRequestId: 'cr', attempts: 1, durationMs: 1 },
};

function throttled(retryAfterMs: number): string | undefined {
  const outcome = failure('throttled', {
    response: { ...failure('throttled').response, retryAfterMs },
  });
  return describeOutcome(outcome).nextStep;
}

const securityGroup = (roles?: string[]) =>
  describeOutcome(
    failure('functional-error', {
      errorCode: 'userNotPartOfSecurityGroup',
      message: 'User X is not part of security group Y',
      response: {
        status: 200,
        statusText: 'OK',
        clientRequestId: 'cr',
        attempts: 1,
        durationMs: 1,
      },
    }),
    { adminRoles: roles },
  );

describe('outcome wording', () => {
  it('durations agree with their number: "1 second", "2 seconds", "1 minute", "2 minutes"', () => {
    expect(throttled(1000)).toBe('The API asked to wait 1 second; try again after that.');
    expect(throttled(1500)).toBe('The API asked to wait 2 seconds; try again after that.');
    expect(throttled(60_000)).toBe('The API asked to wait 1 minute; try again after that.');
    expect(throttled(120_000)).toBe('The API asked to wait 2 minutes; try again after that.');
  });

  it('security-group advice fits the admin role the sign-in shows', () => {
    const dynamics = securityGroup(['Dynamics 365 Administrator']).nextStep!;
    expect(dynamics).toContain(
      "As a Dynamics 365 administrator, you must be a member of the environment's security group",
    );
    for (const roles of [
      ['Power Platform Administrator'],
      ['Global Administrator'],
      ['Power Platform Administrator', 'Dynamics 365 Administrator'],
    ]) {
      const advice = securityGroup(roles).nextStep!;
      expect(advice).not.toContain('Dynamics 365');
      expect(advice).toContain("ask the environment's owner to add you");
    }
    // Unknown roles: the rule is said with whom it binds, not as if it were the user's.
    expect(securityGroup(undefined).nextStep).toContain(
      "Dynamics 365 administrators must be members of the environment's security group",
    );
  });

  it('a 200 that carried a failure leads with the reason, and its status says so', () => {
    const text = securityGroup(['Power Platform Administrator']);
    expect(text.headline).toBe("Elevation failed: you are not in the environment's security group");
    const generic = failure('functional-error', {
      errorCode: 'someOtherCode',
      response: {
        status: 200,
        statusText: 'OK',
        clientRequestId: 'cr',
        attempts: 1,
        durationMs: 1,
      },
    });
    expect(describeOutcome(generic).headline).toBe(
      'Elevation failed: the API reported an error in its answer',
    );
    expect(describeStatus(generic)).toBe('200 OK (with errors in the answer)');
    expect(describeStatus(GRANTED)).toBe('200 OK');
  });

  it('the attempts the bot made are said when it retried', () => {
    const proxy = failure('upstream-unavailable', {
      response: {
        status: 502,
        statusText: 'Bad Gateway',
        clientRequestId: 'cr',
        attempts: 4,
        durationMs: 900,
      },
    });
    expect(describeStatus(proxy)).toBe('502 Bad Gateway, after 4 attempts');
    const reset = failure('connection-failed', {
      response: { clientRequestId: 'cr', attempts: 2, durationMs: 900 },
    });
    expect(describeStatus(reset)).toBe('no response, after 2 attempts');
    expect(describeStatus(failure('forbidden'))).toBe('429 Too Many Requests');
  });

  it('where others read it, the outcome names the requester instead of "you"', () => {
    const reader = { thirdPersonName: 'Alex Wilber' };
    expect(describeOutcome(GRANTED, reader).headline).toBe(
      'Elevated: Alex Wilber is now System Administrator',
    );
    const kinds: FailureKind[] = [
      'unauthorized',
      'permission-missing',
      'not-tenant-admin',
      'forbidden',
      'interrupted',
    ];
    for (const kind of kinds) {
      const text = describeOutcome(failure(kind), reader);
      expect(`${text.headline} ${text.explanation} ${text.nextStep}`).not.toMatch(/\byou(r)?\b/i);
    }
    expect(describeOutcome(failure('not-tenant-admin'), reader).headline).toBe(
      'Elevation refused: Alex Wilber is not a tenant administrator',
    );
    expect(securityGroup(undefined).headline).toContain('you are not');
  });
});

describe('one table for every problem, whichever side found it', () => {
  it('a refusal found by the sign-in before any call has the title the bot shows', () => {
    expect(describeRefusal('sign-in-required')).toBe('Sign-in needed');
    expect(describeRefusal('error')).toBe('Could not sign you in');
    expect(describeRefusal('permission-missing')).toBe('The bot lacks a permission');
    expect(describeRefusal('not-tenant-admin')).toBe('You are not a tenant administrator');
  });

  it('the same problem found by the API heads a failed elevation in the same words', () => {
    for (const kind of ['permission-missing', 'not-tenant-admin'] as const) {
      const headline = describeOutcome(failure(kind)).headline;
      expect(headline.toLowerCase()).toContain(describeRefusal(kind).toLowerCase());
    }
  });
});

describe('a success, with and without the role check', () => {
  it('hedges ("it answers the same way when you already had the role") only when Dataverse was not asked', () => {
    expect(describeOutcome(GRANTED).explanation).toContain('answers the same way');
    expect(describeOutcome(GRANTED, { roleChecked: true }).explanation).not.toContain(
      'answers the same way',
    );
  });
});
