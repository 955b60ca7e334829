import type { ElevationRequest, Requester } from '../../../src/elevation/request';
import {
  mayActOnRequest,
  mayChangeNotifications,
  mayClosePicker,
  mayEndOrExtend,
  mayListTenantElevations,
  mayPickEnvironment,
  mayReadAudit,
  mayReadPolicy,
  mayRunSuggestion,
  tenantAllowed,
} from '../../../src/elevation/who-may';

const CONTOSO = '11111111-1111-4111-8111-111111111111';
const FABRIKAM = '22222222-2222-4222-8222-222222222222';
const alex: Requester = {
  aadObjectId: 'aaaaaaaa-0000-4000-8000-00000000000a',
  tenantId: CONTOSO,
  name: 'Alex Wilber',
};
const megan: Requester = {
  aadObjectId: 'bbbbbbbb-0000-4000-8000-00000000000b',
  tenantId: CONTOSO,
  name: 'Megan Bowen',
};
/** Alex's id as Teams may spell it: the same person. */
const alexUpper: Requester = { ...alex, aadObjectId: alex.aadObjectId.toUpperCase() };

function requestBy(requester: Requester): ElevationRequest {
  return {
    id: 'req-1',
    state: 'failed',
    requester,
    environment: { id: 'env-1', displayName: 'Contoso Dev', type: 'Sandbox' },
    query: 'Contoso Dev',
    createdAt: '2026-12-01T10:00:00.000Z',
    expiresAt: '2026-12-01T10:10:00.000Z',
    updatedAt: '2026-12-01T10:01:00.000Z',
  };
}

describe('the tenant allow-list', () => {
  it('lets users of a listed tenant in, however Teams spells the tenant id', () => {
    expect(tenantAllowed(alex, [CONTOSO])).toBe(true);
    expect(tenantAllowed({ ...alex, tenantId: CONTOSO.toUpperCase() }, [CONTOSO])).toBe(true);
  });

  it('keeps users of any other tenant out', () => {
    expect(tenantAllowed({ ...alex, tenantId: FABRIKAM }, [CONTOSO])).toBe(false);
  });

  it('lets every tenant in when the list is empty (ALLOWED_TENANT_IDS=*)', () => {
    expect(tenantAllowed({ ...alex, tenantId: FABRIKAM }, [])).toBe(true);
  });
});

describe('reading an environment audit', () => {
  it("is for the bot's administrators, whatever the case of their id", () => {
    expect(mayReadAudit(alex, [alex.aadObjectId])).toBe(true);
    expect(mayReadAudit(alexUpper, [alex.aadObjectId])).toBe(true);
  });

  it('is refused to anyone else, and to everyone when there are no administrators', () => {
    expect(mayReadAudit(megan, [alex.aadObjectId])).toBe(false);
    expect(mayReadAudit(alex, [])).toBe(false);
  });
});

describe('reading the whole policy (`policy`)', () => {
  it("is for the bot's administrators, whatever the case of their id", () => {
    expect(mayReadPolicy(alexUpper, [alex.aadObjectId])).toBe(true);
  });

  it('is refused to anyone else, and to everyone when there are no administrators', () => {
    expect(mayReadPolicy(megan, [alex.aadObjectId])).toBe(false);
    expect(mayReadPolicy(alex, [])).toBe(false);
  });
});

describe("changing a channel's notifications", () => {
  it("is for the bot's administrators only", () => {
    expect(mayChangeNotifications(alexUpper, [alex.aadObjectId])).toBe(true);
    expect(mayChangeNotifications(megan, [alex.aadObjectId])).toBe(false);
    expect(mayChangeNotifications(alex, [])).toBe(false);
  });
});

describe("pressing a request card's buttons (Elevate, Cancel, Try again)", () => {
  it('is for the requester', () => {
    expect(mayActOnRequest(alexUpper, requestBy(alex))).toBe(true);
  });

  it('is refused to someone else in the chat', () => {
    expect(mayActOnRequest(megan, requestBy(alex))).toBe(false);
  });

  it('is refused to the same object id coming from another tenant', () => {
    expect(mayActOnRequest({ ...alex, tenantId: FABRIKAM }, requestBy(alex))).toBe(false);
  });
});

describe('picking an environment on a picker card', () => {
  it('is for the person the card names', () => {
    expect(mayPickEnvironment(alexUpper, alex.aadObjectId)).toBe(true);
    expect(mayPickEnvironment(megan, alex.aadObjectId)).toBe(false);
  });

  it('is open to whoever clicks a card that names nobody (the request is theirs)', () => {
    expect(mayPickEnvironment(megan, undefined)).toBe(true);
    expect(mayPickEnvironment(megan, '')).toBe(true);
  });
});

describe("a picker's Cancel", () => {
  it('is for the person the card names', () => {
    expect(mayClosePicker(alexUpper, alex.aadObjectId)).toBe(true);
    expect(mayClosePicker(megan, alex.aadObjectId)).toBe(false);
  });

  it('closes a card that names nobody for whoever clicks', () => {
    expect(mayClosePicker(megan, undefined)).toBe(true);
  });
});

describe('the button of a typo suggestion ("Did you mean ...")', () => {
  it('runs for the person who typed it', () => {
    expect(mayRunSuggestion(alexUpper, alex.aadObjectId)).toBe(true);
  });

  it('is refused to anyone else, and runs for nobody when the card names nobody', () => {
    expect(mayRunSuggestion(megan, alex.aadObjectId)).toBe(false);
    expect(mayRunSuggestion(alex, undefined)).toBe(false);
    expect(mayRunSuggestion(alex, '')).toBe(false);
  });
});

describe("ending or extending an elevation (I'm done, Remove now, Extend)", () => {
  it('is for the requester, whatever the case of their id', () => {
    expect(mayEndOrExtend(alexUpper, requestBy(alex))).toBe(true);
  });

  it('is refused to someone else in the chat, and to the same id from another tenant', () => {
    expect(mayEndOrExtend(megan, requestBy(alex))).toBe(false);
    expect(mayEndOrExtend({ ...alex, tenantId: FABRIKAM }, requestBy(alex))).toBe(false);
  });
});

describe('listing every active elevation of the tenant (who is elevated)', () => {
  it("is for the bot's administrators only", () => {
    expect(mayListTenantElevations(alexUpper, [alex.aadObjectId])).toBe(true);
    expect(mayListTenantElevations(megan, [alex.aadObjectId])).toBe(false);
    expect(mayListTenantElevations(alex, [])).toBe(false);
  });
});
