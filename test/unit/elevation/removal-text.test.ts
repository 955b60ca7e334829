/** The wording of each way a time-boxed elevation ends (issue #13, item 8). */
import {
  ADMIN_CENTER_URL,
  describeRemoval,
  type RemovalEnding,
  removalResultLabel,
} from '../../../src/elevation/removal-text';

const WHERE = { environmentName: 'Contoso Dev' };

interface Row {
  name: string;
  ending: RemovalEnding;
  early?: boolean;
  nextAttempt?: string;
  headline: RegExp;
  says: RegExp[];
  settled: boolean;
  /** What the next step must say; null: there is none (nothing to do). */
  nextStep: RegExp | null;
}

const ROWS: Row[] = [
  {
    name: 'removed at the end',
    ending: { kind: 'removed', status: 204, requestId: 'dv-1' },
    headline: /^System Administrator removed in Contoso Dev$/,
    says: [/time is up/, /no longer hold it/, /Dataverse request id: dv-1\./],
    settled: true,
    nextStep: null,
  },
  {
    name: 'removed early (I am done, Remove now)',
    ending: { kind: 'removed', status: 204, requestId: 'dv-2' },
    early: true,
    headline: /^System Administrator removed in Contoso Dev$/,
    says: [/You ended the elevation before its time/, /Dataverse request id: dv-2\./],
    settled: true,
    nextStep: null,
  },
  {
    name: 'already gone',
    ending: {
      kind: 'already-gone',
      status: 404,
      requestId: 'dv-3',
      detail: 'the DELETE answered 404',
    },
    headline: /^Nothing to remove in Contoso Dev$/,
    says: [
      /^Nothing to remove: Dataverse shows no System Administrator role for you any more/,
      /the DELETE answered 404/,
      /a success/,
      /Dataverse request id: dv-3\./,
    ],
    settled: true,
    nextStep: null,
  },
  {
    name: 'removed by Microsoft when the PIM activation ended',
    ending: { kind: 'removed-by-microsoft', status: 200, requestId: 'dv-4' },
    headline: /removed by Microsoft/,
    says: [/PIM activation ended/, /no longer shows a tenant admin role/, /dv-4/],
    settled: true,
    nextStep: null,
  },
  {
    name: 'kept: held before the elevation',
    ending: { kind: 'kept' },
    headline: /^System Administrator kept in Contoso Dev$/,
    says: [/already held System Administrator here before this elevation/, /only removes what/],
    settled: true,
    nextStep: /admin center/,
  },
  {
    name: 'refused (403)',
    ending: {
      kind: 'refused',
      status: 403,
      requestId: 'dv-5',
      message: 'Principal user is missing prvDeleteRole privilege.',
    },
    headline: /^Removal refused in Contoso Dev: you still hold System Administrator$/,
    says: [/HTTP 403/, /missing prvDeleteRole privilege/, /Dataverse request id: dv-5\./],
    settled: false,
    nextStep: new RegExp(
      `Remove the role in the Power Platform admin center \\(${ADMIN_CENTER_URL}\\)`,
    ),
  },
  {
    name: 'throttled, with Retry-After',
    ending: {
      kind: 'unavailable',
      status: 429,
      requestId: 'dv-6',
      retryAfterMs: 90_000,
      message: 'Number of requests exceeded the limit.',
    },
    headline: /Dataverse is throttling requests$/,
    says: [/requests exceeded the limit/, /still hold System Administrator/, /dv-6/],
    settled: false,
    nextStep: /tries again in 2 minutes, as Dataverse asked/,
  },
  {
    name: 'unavailable, next attempt known',
    ending: { kind: 'unavailable', message: 'No answer within 30 seconds.' },
    nextAttempt: '15:42 (your time)',
    headline: /Dataverse did not answer$/,
    says: [/No answer within 30 seconds\./],
    settled: false,
    nextStep: /^Nothing to do: the bot tries again at 15:42 \(your time\)/,
  },
  {
    name: 'token not available: refresh refused',
    ending: { kind: 'token-unavailable', reason: 'refused', message: 'AADSTS50076' },
    headline: /^Your elevation in Contoso Dev has ended: press Remove now$/,
    says: [/AADSTS50076/, /consent/, /multi-factor authentication/, /sign-in frequency/, /revoked/],
    settled: false,
    nextStep: /^Press Remove now/,
  },
  {
    name: 'token not available: nothing kept',
    ending: { kind: 'token-unavailable', reason: 'not-kept', message: 'nothing was kept' },
    headline: /press Remove now$/,
    says: [/holds nothing to act as you/],
    settled: false,
    nextStep: /^Press Remove now/,
  },
];

describe('removal wording', () => {
  it.each(ROWS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const text = describeRemoval(row.ending, {
      ...WHERE,
      early: row.early,
      nextAttempt: row.nextAttempt,
    });
    expect(text.headline).toMatch(row.headline);
    for (const said of row.says) expect(text.explanation).toMatch(said);
    expect(text.settled).toBe(row.settled);
    if (row.nextStep) expect(text.nextStep).toMatch(row.nextStep);
    else expect(text.nextStep).toBeUndefined();
  });

  it('names no Dataverse request id when Dataverse gave none', () => {
    const text = describeRemoval({ kind: 'removed', status: 204 }, WHERE);
    expect(text.explanation).not.toMatch(/request id/);
  });

  it('every ending the user must act on says what to do; the settled ones say no action is needed', () => {
    for (const row of ROWS) {
      const text = describeRemoval(row.ending, WHERE);
      if (!text.settled) expect(text.nextStep).toBeTruthy();
    }
  });

  it('in a group chat names the requester instead of "you"', () => {
    const reader = { thirdPersonName: 'Alex Wilber' };
    const refused = describeRemoval(
      { kind: 'refused', status: 403, message: 'no' },
      { ...WHERE, reader },
    );
    expect(refused.headline).toBe(
      'Removal refused in Contoso Dev: Alex Wilber still holds System Administrator',
    );
    const token = describeRemoval(
      { kind: 'token-unavailable', reason: 'refused', message: 'x' },
      { ...WHERE, reader },
    );
    expect(token.headline).toBe(
      "Alex Wilber's elevation in Contoso Dev has ended: press Remove now",
    );
    expect(token.nextStep).toMatch(/^Alex Wilber should press Remove now/);
    const gone = describeRemoval(
      { kind: 'already-gone', status: 404, detail: 'd' },
      { ...WHERE, reader },
    );
    expect(gone.explanation).toMatch(/no System Administrator role for them any more/);
  });

  it('a throttled removal without Retry-After and without a known next attempt still says when', () => {
    const text = describeRemoval({ kind: 'unavailable', status: 503, message: 'Down.' }, WHERE);
    expect(text.nextStep).toMatch(/in a few minutes/);
    const seconds = describeRemoval(
      { kind: 'unavailable', status: 429, retryAfterMs: 1000, message: 'Slow down.' },
      WHERE,
    );
    expect(seconds.nextStep).toMatch(/in 1 second,/);
  });

  it('labels each removal kind for a channel, and an unknown kind as itself', () => {
    expect(removalResultLabel('already-gone')).toBe('Already gone (a success)');
    expect(removalResultLabel('removed', true)).toBe('Removed, ended early');
    expect(removalResultLabel('token-unavailable')).toMatch(/Remove now/);
    expect(removalResultLabel('something-new')).toBe('something-new');
  });
});
