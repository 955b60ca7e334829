/**
 * How environment names compare: the key a typed name and a display name are matched by, and the
 * order in which environments are listed to pick from.
 */
import type { Environment } from './vocabulary';

/**
 * The form display names are compared in. Decided: NFKC (full-width letters and ligatures fold),
 * lower case, Latin/Greek/Cyrillic diacritics folded (people type "Munchen" for "München"; a
 * collision is reported as ambiguous, never silently picked), a few letters that have no
 * decomposition folded (ß, æ, ø, ł, ...), then everything that is not a letter or a digit removed:
 * spaces, dashes, underscores, punctuation, symbols and emoji. A name made only of symbols keeps
 * its symbols, so that "🚀" finds "🚀" and not every other symbol-only name.
 */
export function nameKey(text: string): string {
  const ascii = asciiNameKey(text);
  if (ascii !== undefined) return ascii;
  // NFKD both applies the compatibility mappings and separates the diacritics; NFC then puts
  // back together what must stay whole (Hangul syllables, Indic vowel signs).
  const folded = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .normalize('NFC')
    .replace(/[ßæœøłđðþı]/g, (letter) => LETTER_FOLDS[letter] ?? letter);
  const lettersAndDigits = folded.replace(/[^\p{L}\p{N}\p{M}]/gu, '');
  if (lettersAndDigits !== '') return lettersAndDigits;
  // '#' cannot occur in a key made of letters and digits, so the two kinds never collide.
  const symbols = folded.replace(/\s+/g, '');
  return symbols === '' ? '' : `#${symbols}`;
}

const LETTER_FOLDS: Record<string, string> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
};

/** Printable ASCII; anything else (tabs included) takes the full Unicode path. */
const ASCII = /^[ -~]*$/;
const NOT_ASCII_LETTER_OR_DIGIT = /[^a-z0-9]+/g;

/**
 * nameKey for the common all-ASCII name, without the Unicode passes (several times faster, and
 * most of the index build); undefined when the text has anything else. Gives the same key.
 */
function asciiNameKey(text: string): string | undefined {
  if (!ASCII.test(text)) return undefined;
  const key = text.toLowerCase().replace(NOT_ASCII_LETTER_OR_DIGIT, '');
  // A name of punctuation only ("---") is a name of symbols: let the full path decide.
  return key === '' && text.trim() !== '' ? undefined : key;
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

export function byDisplayName(a: Environment, b: Environment): number {
  return collator.compare(a.displayName, b.displayName) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Which of several texts joined into one string holds `position`, given where each starts
 * (ascending): a binary search, so that a substring found in the joined text maps back to its part.
 */
export function partAt(starts: readonly number[], position: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (starts[middle]! <= position) low = middle;
    else high = middle - 1;
  }
  return low;
}
