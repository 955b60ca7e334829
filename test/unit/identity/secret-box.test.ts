import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../../src/identity/secret-box';
import { createLogger } from '../../../src/log';

const KEY = randomBytes(32);
const PURPOSE = 'session/3a4cfec5-a51a-4112-a8bf-15cd69dbdba8/8a2f0c5e-6d1b-4c3e-9f7a-1b2c3d4e5f60';
const SECRET = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGV4In0.c2lnbmF0dXJlLW9mLXRoZS1zc28tdG9rZW4';

function boxWithLogs(key = KEY): { box: SecretBox; logs: string[] } {
  const logs: string[] = [];
  return { box: new SecretBox(key, createLogger({ sink: (line) => logs.push(line) })), logs };
}

/** The sealed value with one byte of its payload flipped. */
function flipByte(sealed: string, index: number): string {
  const [prefix, payload] = [sealed.slice(0, 3), sealed.slice(3)];
  const bytes = Buffer.from(payload, 'base64url');
  bytes[index] = bytes[index]! ^ 0x01;
  return prefix + bytes.toString('base64url');
}

describe('SecretBox (AES-256-GCM)', () => {
  it('opens what it sealed, for the same purpose; the sealed form shows neither the text nor the purpose', () => {
    const { box } = boxWithLogs();
    const sealed = box.seal(SECRET, PURPOSE);
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(sealed).not.toContain(SECRET);
    expect(sealed).not.toContain('3a4cfec5');
    expect(box.open(sealed, PURPOSE)).toBe(SECRET);
    expect(box.open(box.seal('', PURPOSE), PURPOSE)).toBe('');
    const unicode = '{"upn":"zoë@contoso.example","wids":["62e90394"]}';
    expect(box.open(box.seal(unicode, PURPOSE), PURPOSE)).toBe(unicode);
  });

  it('a value with one flipped byte (IV, tag or ciphertext) does not open, and the warning holds no value', () => {
    const { box, logs } = boxWithLogs();
    const sealed = box.seal(SECRET, PURPOSE);
    const length = Buffer.from(sealed.slice(3), 'base64url').length;
    for (const index of [0, 11, 12, 27, 28, length - 1]) {
      expect(box.open(flipByte(sealed, index), PURPOSE)).toBeUndefined();
    }
    expect(box.open(sealed.slice(0, 20), PURPOSE)).toBeUndefined();
    expect(box.open('v2.' + sealed.slice(3), PURPOSE)).toBeUndefined();
    expect(box.open('not sealed at all', PURPOSE)).toBeUndefined();
    expect(box.open('', PURPOSE)).toBeUndefined();
    expect(logs.length).toBeGreaterThanOrEqual(10);
    for (const line of logs) {
      expect(JSON.parse(line)).toMatchObject({ level: 'warn', purpose: PURPOSE });
      expect(line).not.toContain(sealed.slice(3, 40));
      expect(line).not.toContain(SECRET);
    }
  });

  it('another key does not open it', () => {
    const sealed = boxWithLogs().box.seal(SECRET, PURPOSE);
    const { box: other, logs } = boxWithLogs(randomBytes(32));
    expect(other.open(sealed, PURPOSE)).toBeUndefined();
    expect(logs).toHaveLength(1);
  });

  it('a value moved under another key of the store (another purpose) does not open', () => {
    const { box } = boxWithLogs();
    const sealed = box.seal(SECRET, PURPOSE);
    expect(box.open(sealed, PURPOSE.replace('session/', 'msal/'))).toBeUndefined();
    expect(
      box.open(
        sealed,
        'session/3a4cfec5-a51a-4112-a8bf-15cd69dbdba8/5b7e9d1c-3a2f-4e6b-8c0d-9e8f7a6b5c41',
      ),
    ).toBeUndefined();
  });

  it('equal plaintexts get different IVs, so different sealed values', () => {
    const { box } = boxWithLogs();
    const sealed = Array.from({ length: 20 }, () => box.seal(SECRET, PURPOSE));
    const ivs = sealed.map((s) =>
      Buffer.from(s.slice(3), 'base64url').subarray(0, 12).toString('hex'),
    );
    expect(new Set(ivs).size).toBe(20);
    expect(new Set(sealed).size).toBe(20);
    for (const s of sealed) expect(box.open(s, PURPOSE)).toBe(SECRET);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('32-byte');
  });
});
